#!/usr/bin/env bash
# usage: fill.sh NAME BUILD_CHUNKS   (env: FACTDESK_DATABASE_URL / FACTDESK_CHROMA_URL for server mode)
set -u
name=$1 build=$2
d=/work/bench/$name
mkdir -p $d
cd /work/main
export PATH=/work/venv/bin:$PATH
( while true; do echo "$(date +%s) $(cut -d' ' -f1-3 /proc/loadavg)"; sleep 30; done ) > $d/loadavg.txt &
lp=$!
/usr/bin/time -v python -m benchmarks.scale --work $d/work --json $d/build.json --param mode=build --param data=$d/data --param chunks=$build $EXTRA > $d/build.log 2>&1
/usr/bin/time -v python -m benchmarks.scale --work $d/work --json $d/fill.json --param mode=fill --param data=$d/data --param chunks=1000000 --param max_seconds=${MAXS:-6000} $EXTRA > $d/fill.log 2>&1
echo done > $d/DONE
kill $lp
