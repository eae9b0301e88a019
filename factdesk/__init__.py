"""factdesk: cited answers and summaries over news articles."""

__version__ = "0.1.0"
