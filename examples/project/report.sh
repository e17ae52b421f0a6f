#!/bin/sh
# The project report: what was asked, what was found, what it would cost.
# usage: report.sh TARGETS.csv studies.ndjson series.ndjson   (env: INSTCOUNT, COST_PER_STUDY)
set -eu
targets=$1 studies=$2 series=$3
ic=${INSTCOUNT:-inst-count}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# the studies found: not the records of targets without a match (status no-match or failed)
grep -v '"status":"\(no-match\|failed\)"' "$studies" > "$tmp/studies" || true
studies=$tmp/studies

# the target list's first column, without its header; the accessions found
tail -n +2 "$targets" | cut -d, -f1 | tr -d '\r"' | sed '/^$/d' | sort -u > "$tmp/targets"
$ic -q -t all --by AccessionNumber --per record "$studies" | tail -n +2 | cut -f1 | sort -u > "$tmp/found"
sum() { grep -o "\"$1\":[0-9]*" "$2" | cut -d: -f2 | awk '{ s += $1 } END { print s + 0 }'; }

n_targets=$(wc -l < "$tmp/targets")
n_found=$(comm -12 "$tmp/targets" "$tmp/found" | wc -l)
n_studies=$(grep -c . "$studies" || true)
n_series=$(grep -c . "$series" || true)
n_patients=$($ic -q -t all --by PatientID --per record "$studies" | tail -n +2 | wc -l)
instances=$(sum NumberOfStudyRelatedInstances "$studies")

echo "targets:            $n_targets"
echo "targets found:      $n_found"
echo "studies:            $n_studies"
echo "series:             $n_series"
echo "unique patients:    $n_patients"
echo "expected instances: $instances"
echo "estimated cost:     $(awk -v n="$n_studies" -v c="${COST_PER_STUDY:-0}" 'BEGIN { printf "%.2f\n", n * c }') ($n_studies studies x ${COST_PER_STUDY:-0})"
echo
echo "targets not found:"
comm -23 "$tmp/targets" "$tmp/found" | sed 's/^/  /'
echo
echo "series per modality:"
$ic -q -t all --by Modality --per series "$series" | tail -n +2 | sed 's/^/  /'
echo
echo "top series descriptions:"
$ic -q -t all --by SeriesDescription --per series --top 10 "$series" | tail -n +2 | sed 's/^/  /'
