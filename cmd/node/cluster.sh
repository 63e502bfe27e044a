#!/usr/bin/env bash
# make cluster: three local members of a new cluster on 127.0.0.1:7001-7003,
# data under ${DATA:-/tmp/raftlab-cluster}. Ctrl-C stops them all.
set -euo pipefail
bin=${BIN:-bin/raftnode}
data=${DATA:-/tmp/raftlab-cluster}
token=${TOKEN:-raftlab-demo}
members=1=http://127.0.0.1:7001,2=http://127.0.0.1:7002,3=http://127.0.0.1:7003
mkdir -p "$data"
pids=()
stop() {
	trap - INT TERM EXIT
	echo
	echo "stopping members ${pids[*]}"
	kill "${pids[@]}" 2>/dev/null || true
	wait "${pids[@]}" 2>/dev/null || true
}
trap stop INT TERM EXIT
for id in 1 2 3; do
	"$bin" --id "$id" --listen "127.0.0.1:700$id" --initial-cluster "$members" \
		--cluster-token "$token" --data-dir "$data/node-$id" --allowed-origins http://127.0.0.1:8080,http://localhost:8080 --snapshot-entries 1000 --snapshot-catchup-entries 100 \
		2>"$data/node-$id.log" &
	pids+=($!)
done
echo "Raftlab cluster of 3 members (logs in $data/node-*.log):"
for id in 1 2 3; do echo "  member $id: http://127.0.0.1:700$id"; done
echo
echo "Try:  curl -X PUT -d hello http://127.0.0.1:7001/kv/greeting"
echo "      curl http://127.0.0.1:7002/kv/greeting"
echo "      curl http://127.0.0.1:7003/cluster"
echo "Watch it in the visualizer: open http://127.0.0.1:7001 and choose the real cluster."
echo "Ctrl-C stops all three."
wait
