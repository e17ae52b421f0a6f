#!/bin/bash
# Pull every study of one patient, the way site scripts drive DCMTK: echoscu as a guard,
# findscu's stderr dump parsed with grep/sed for the UIDs (grep -a and tr: DCMTK
# prints a UID's NUL padding raw), one movescu +P per study.
# usage: pull-patient.sh AEC HOST PORT MYPORT OUTDIR PATIENTID
set -u
aec=$1 host=$2 port=$3 myport=$4 out=$5 pid=$6
if ! echoscu -aec "$aec" "$host" "$port"; then
  echo "PACS $aec not reachable"
  exit 1
fi
uids=$(findscu -S -aec "$aec" "$host" "$port" -k QueryRetrieveLevel=STUDY -k PatientID="$pid" -k StudyInstanceUID 2>&1 \
  | grep -a "(0020,000d)" | sed -e 's/^.*\[\(.*\)\].*$/\1/' | tr -d '\000' | sort)
n=0
for uid in $uids; do
  mkdir -p "$out/$uid"
  movescu -S -aec "$aec" -aem MOVESCU +P "$myport" -od "$out/$uid" "$host" "$port" \
    -k QueryRetrieveLevel=STUDY -k StudyInstanceUID="$uid"
  rc=$?
  if [ "$rc" -ne 0 ]; then
    echo "movescu failed for $uid with $rc"
    exit 2
  fi
  n=$((n + 1))
  echo "$uid $(ls "$out/$uid" | wc -l) files"
done
echo "pulled $n studies of $pid"
