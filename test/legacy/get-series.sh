#!/bin/bash
# One folder per series of a study: findscu -X writes the responses to files, dcmdump reads
# the series UIDs out of them, getscu fetches each series. usage: get-series.sh AEC HOST PORT OUTDIR STUDYUID
set -u
aec=$1 host=$2 port=$3 out=$4 study=$5
mkdir -p "$out/responses"
findscu -S -aec "$aec" -X -od "$out/responses" "$host" "$port" \
  -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$study" -k SeriesInstanceUID -k Modality || exit 1
for f in "$out"/responses/rsp*.dcm; do
  series=$(dcmdump +P SeriesInstanceUID "$f" | sed -e 's/^.*\[\(.*\)\].*$/\1/')
  modality=$(dcmdump +P Modality "$f" | sed -e 's/^.*\[\(.*\)\].*$/\1/')
  mkdir -p "$out/$series"
  getscu -S -aec "$aec" -od "$out/$series" "$host" "$port" \
    -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$study" -k SeriesInstanceUID="$series" || exit 2
  echo "$modality $series $(ls "$out/$series" | wc -l)"
done | sort
rm -r "$out/responses"
