#!/usr/bin/env bash
# The GPU benchmark's record in one call of at most 8 minutes on a machine with one CUDA GPU
# (docs/gpu.md): the CUDA median test, then the parts by priority, each in its own process under its
# own time limit, each record written as it goes. Run from the repository root:
#     bash benchmarks/gpu/record.sh OUT_DIR [PART ...]
# PARTS (default: all, in this order): scoring heatmap job grading training p2l-rates
# With the package installed (make install) or, on a bare GPU machine, torch there and the package's
# sources on PYTHONPATH (wheels of nibabel and monai in .whl/ are installed to /tmp/site).
# Then: python benchmarks/bench_gpu.py --merge OLD.json OUT_DIR/part-*.json --out docs/gpu/NEW.json
set -u
out=${1:?usage: record.sh OUT_DIR [PART ...]}
shift
parts=${*:-scoring heatmap job grading training p2l-rates}
mkdir -p "$out"
py=${PYTHON:-python3}
export PYTHONUNBUFFERED=1 PYTHONPATH="src${PYTHONPATH:+:$PYTHONPATH}"
if compgen -G ".whl/*.whl" >/dev/null; then
  $py -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl && export PYTHONPATH="$PYTHONPATH:/tmp/site"
fi
nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm --format=csv >"$out/nvidia-smi.txt" 2>&1
lscpu >"$out/lscpu.txt" 2>&1
bench() { # NAME LIMIT_S ARGS...: one part, its log and record
  local name=$1 limit=$2
  shift 2
  echo "== $name ($(date -u +%T), limit ${limit}s)"
  timeout "$limit" $py benchmarks/bench_gpu.py --out "$out/part-$name.json" --budget-s "$((limit - 20))" "$@" 2>&1 | tee "$out/$name.log" | tail -40
}
echo "== CUDA median test ($(date -u +%T))"
timeout 30 $py -m pytest -q -p no:cacheprovider tests/scoring/test_median_device.py 2>&1 | tee "$out/median-test.log" | tail -3
ALL="AE VAE FAE FAE-random DAE DDPM pDDPM cDDPM RA RA-noLPIPS PHANES PHANES-noPretrained"  # the small networks first: their median share is largest
NEW="RA RA-noLPIPS PHANES PHANES-noPretrained FAE FAE-random"
for part in $parts; do
  case $part in
    scoring) bench scoring 200 --parts methods --measures scoring --methods $ALL ;;
    heatmap) bench heatmap 170 --parts heatmap ;;
    job) bench job 240 --parts job --job-methods AE Patch2Loc FAE --job-volumes 12 --graders 14 ;;
    grading) # the host CPU's reading and grading alone: does it scale to a job's 14 grading threads?
      echo "== grading ($(date -u +%T), limit 150s)"
      timeout 150 $py benchmarks/bench_grading.py --volumes 12 --graders 1 14 2>&1 | grep -v '^\[' | tee "$out/grading.log" ;;
    training) bench training 100 --parts methods --measures training --methods ${TRAIN_METHODS:-$NEW} --precisions none ;;
    p2l-rates) bench p2l-rates 40 --parts patch2loc_training --train-variants bf16-cl fp16-cl --repeats 2 ;;
    *) echo "record.sh: unknown part $part" >&2 ;;
  esac
done
echo "== done ($(date -u +%T))"
