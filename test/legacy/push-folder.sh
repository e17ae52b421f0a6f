#!/bin/bash
# Send a folder to an archive: echoscu first, storescu +sd +r, exit status checked,
# then a count of what was sent. usage: push-folder.sh AEC HOST PORT DIR
set -u
aec=$1 host=$2 port=$3 dir=$4
echoscu -aec "$aec" "$host" "$port" || exit 1
storescu -aec "$aec" +sd +r "$host" "$port" "$dir"
rc=$?
if [ "$rc" -ne 0 ]; then
  echo "storescu exited $rc"
  exit 3
fi
echo "sent $(find "$dir" -type f | wc -l) files from $dir"
