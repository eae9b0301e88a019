#!/usr/bin/env bash
# after both fills: the 1M measurements, one at a time, on a quiet machine
set -u
cd /work/main
export PATH=/work/venv/bin:$PATH
B=/work/bench
stamp() { echo "$1 $(date +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >> $B/times.txt; }
m() {  # name dir outfile extra-params...
  local name=$1 d=$2 out=$3; shift 3
  stamp "start $name"
  /usr/bin/time -v python -m benchmarks.scale --work $d/work --json $d/$out --param data=$d/data "$@" > $d/$out.log 2>&1
  stamp "end $name"
}
# the first open builds the keyword index (its time and peak RSS); it may overlap the other fill
while [ ! -f $B/emb/DONE ] || pgrep -f 'pytest|\.ci/run' >/dev/null; do sleep 20; done
m emb-first $B/emb measure-first.json --param mode=measure --param queries=100 --param offset=0
while [ ! -f $B/srv/DONE ] || pgrep -f 'pytest|\.ci/run' >/dev/null; do sleep 20; done
touch /tmp/bench-measuring
m emb-steady $B/emb measure.json --param mode=measure --param queries=100 --param offset=1000
m emb-bm25 $B/emb bm25.json --param mode=bm25 --param queries=100
stamp "start emb-replicas"
python -m benchmarks.replicas --work $B/emb/work --json $B/emb/replicas.json --param data=$B/emb/data --param seconds=20 > $B/emb/replicas.log 2>&1
stamp "end emb-replicas"
export FACTDESK_DATABASE_URL=postgresql://postgres@127.0.0.1:55432/factdesk FACTDESK_CHROMA_URL=http://127.0.0.1:58000
S="--param chroma_path=$B/srv/stack/chroma"
m srv-first $B/srv measure-first.json --param mode=measure --param queries=100 --param offset=0 $S
m srv-steady $B/srv measure.json --param mode=measure --param queries=100 --param offset=1000 $S
stamp "start srv-replicas"
python -m benchmarks.replicas --work $B/srv/work --json $B/srv/replicas.json --param data=$B/srv/data --param seconds=20 > $B/srv/replicas.log 2>&1
stamp "end srv-replicas"
rm -f /tmp/bench-measuring
touch $B/MEASURED
