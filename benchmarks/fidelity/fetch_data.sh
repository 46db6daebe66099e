#!/usr/bin/env bash
# Fetch the fidelity suite's two data files from Debian's opencv-doc package,
# without root: letter-recognition.data (UCI letter recognition) and digits.png
# (OpenCV's 5,000 handwritten digits). They go to $SKLEARN_LT_OPENCV_DATA, or
# else to <cache>/opencv-data, <cache> being $SKLEARN_LT_FIDELITY_CACHE or
# ~/.cache/sklearn-lt-fidelity (where benchmarks/fidelity/data.py looks).
# Needs apt's package lists (apt-get update, once, as root, on a bare machine).
set -euo pipefail
cache="${SKLEARN_LT_FIDELITY_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/sklearn-lt-fidelity}"
dest="${SKLEARN_LT_OPENCV_DATA:-$cache/opencv-data}"
inside=./usr/share/doc/opencv-doc/examples/data
declare -A sha256=(
  [letter-recognition.data]=2b89f3602cf768d3c8355267d2f13f2417809e101fc2b5ceee10db19a60de6e2
  [digits.png]=60c917758ef97cc090f35cd8e293e4de691ef942847da0ff80dedab33d57c662
)

verify() {
  for f in "${!sha256[@]}"; do
    echo "${sha256[$f]}  $dest/$f" | sha256sum --check --status || return 1
  done
}

if verify 2>/dev/null; then
  echo "fetch_data.sh: the data is already in $dest"
  exit 0
fi
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if ! (cd "$work" && apt-get download opencv-doc); then
  echo "fetch_data.sh: 'apt-get download opencv-doc' failed; on a bare machine run" \
    "'apt-get update' (as root) first." >&2
  exit 1
fi
dpkg-deb --fsys-tarfile "$work"/opencv-doc_*.deb \
  | tar -x -C "$work" "$inside/letter-recognition.data" "$inside/digits.png"
mkdir -p "$dest"
cp "$work/$inside/letter-recognition.data" "$work/$inside/digits.png" "$dest/"
verify || { echo "fetch_data.sh: checksum mismatch in $dest" >&2; exit 1; }
echo "fetch_data.sh: wrote letter-recognition.data and digits.png to $dest"
