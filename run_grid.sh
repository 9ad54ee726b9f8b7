#!/usr/bin/env bash
# The whole study in one command: every (noise setting, loss, seed) of the grid through train.py,
# up to GPUS x JOBS_PER_GPU at once, finished runs skipped and interrupted ones resumed, then plot.py.
# Each part is an environment variable or the flag beside it (bash run_grid.sh --help lists them).
# --submit hands the unfinished points to Slurm as one array job, plus a job that runs plot.py after it;
# each array task (SLURM_ARRAY_TASK_ID set) runs only its grid point (index as --list numbers it).
set -uo pipefail
if [ "${BASH_VERSINFO[0]}" -lt 4 ] || { [ "${BASH_VERSINFO[0]}" -eq 4 ] && [ "${BASH_VERSINFO[1]}" -lt 4 ]; }; then
    echo "error: run_grid.sh needs bash 4.4 or newer (this is $BASH_VERSION)" >&2; exit 2
fi

# A study (STUDY, --study) gives DATASET, PRESET, LOSSES, SEEDS, SYM_RATES, ASYM_RATES and RESULTS; each of
# them given as a variable or a flag wins over it. `python presets.py list` names the studies.
STUDY=${STUDY-report}
HUMAN=${HUMAN-}                 # human label sets, e.g. "aggre worse" (CIFAR-10N) or "noisy" (CIFAR-100N)
EPOCHS=${EPOCHS-}               # empty: the preset's
EXTRA=${EXTRA-}                 # passed to every train.py, split on whitespace
GPUS=${GPUS-}                   # empty: every visible GPU
JOBS_PER_GPU=${JOBS_PER_GPU-1}
PYTHON=${PYTHON-python}
SUBMIT=${SUBMIT-}               # 1: as --submit
MAX_PARALLEL=${MAX_PARALLEL-}   # --submit: at most this many array tasks at once; empty: no cap
SBATCH_ARGS=${SBATCH_ARGS-}     # --submit: more sbatch options, e.g. "--partition gpu --gres=gpu:1 --time=2:00:00"
MODE=run
FORCE=

usage() {
    cat <<EOF
usage: bash run_grid.sh [--dry-run | --list | --submit [--force]] [--study S] [--dataset D] [--preset P]
                        [--losses L] [--seeds S] [--sym-rates R] [--asym-rates R] [--human H] [--epochs E]
                        [--results DIR] [--extra ARGS] [--gpus N] [--jobs-per-gpu J] [--max-parallel N]
                        [--sbatch-args ARGS]

Runs train.py over every noise setting x loss x seed, skipping runs whose result.json exists and
resuming runs with a last.pt, then calls plot.py on the results. Each flag can also be given as the
environment variable in capitals (STUDY, LOSSES, SEEDS, ...); a flag wins over its variable, and
both win over the study.

The grid:
  --study         a named study: report, ma2020-cifar10, ma2020-cifar100, ma2020-mnist, ye2023-cifar10,
                  ye2023-cifar100, ye2023-mnist; it sets the six below and RESULTS (default: report)
  --dataset       data set: cifar10, cifar100 or mnist (default: the study's; report: cifar10)
  --preset        train.py --preset of every run (default: the study's; report: report)
  --losses        losses to train (default: the study's; report: "ce fl nce nfl nce+mae nfl+mae")
  --seeds         seeds (default: the study's; report: "42", the papers' studies: "0 1 2")
  --sym-rates     symmetric noise rates; 0.0 is the clean run (default: the study's; report: "0.0 0.2 0.5 0.8")
  --asym-rates    asymmetric noise rates (default: the study's; report: "0.1 0.25 0.4")
  --human         human label sets to add: CIFAR-10N's, e.g. "aggre worse", or CIFAR-100N's "noisy"
                  (default: none)
  --epochs        epochs of every run (default: the preset's, 30 for the report)
  --results       results root, train.py's --out and plot.py's folder (default: results for the report,
                  results/<study> for the others, results/<preset> for the report's grid under another preset)
  --extra         more train.py flags, e.g. "--arch cnn8" (default: none)

Where it runs:
  --gpus          number of GPUs to use (default: every visible GPU; 0: one run at a time on the CPU)
  --jobs-per-gpu  runs at once on each GPU (default: 1)
  --submit        submit the unfinished points to Slurm as one array job and a job that runs plot.py
                  after it, then exit (also SUBMIT=1); refused while an array of the same RESULTS is
                  queued or running, unless --force
  --max-parallel  with --submit: array tasks at once (default: no cap)
  --sbatch-args   with --submit: more sbatch options, e.g. "--partition gpu --gres=gpu:1" (default: none)
  PYTHON=...      (a variable only) the interpreter that runs the scripts (default: python)

What it shows:
  --dry-run       print the train.py commands and exit
  --list          print the study and its numbered grid with each point's state, and exit
EOF
}

die() { echo "error: $*" >&2; exit 2; }

while [ $# -gt 0 ]; do
    case $1 in
        --dry-run) MODE=dry ;;
        --list) MODE=list ;;
        --submit) SUBMIT=1 ;;
        --force) FORCE=1 ;;
        -h|--help) usage; exit 0 ;;
        --study|--dataset|--preset|--losses|--seeds|--sym-rates|--asym-rates|--human|--epochs|--results|--extra|\
        --gpus|--jobs-per-gpu|--max-parallel|--sbatch-args)
            [ $# -ge 2 ] || die "$1 needs a value; see bash run_grid.sh --help"
            var=${1#--}; var=${var//-/_}; printf -v "${var^^}" '%s' "$2"; shift ;;
        *) die "unknown option '$1'; see bash run_grid.sh --help" ;;
    esac
    shift
done

here=$(CDPATH='' cd -- "$(dirname -- "$0")" >/dev/null && pwd) || exit 2  # the scripts' folder; paths in the flags stay relative to the caller
study=$("$PYTHON" "$here/presets.py" study "$STUDY") || exit 2
eval "$study"  # study_dataset, study_preset, study_losses, ... (shell-quoted by presets.py)
DATASET=${DATASET-$study_dataset}
PRESET=${PRESET-$study_preset}
LOSSES=${LOSSES-$study_losses}
SEEDS=${SEEDS-$study_seeds}
SYM_RATES=${SYM_RATES-$study_sym_rates}
ASYM_RATES=${ASYM_RATES-$study_asym_rates}
# A study's runs have a folder of their own: run directories do not name the preset, so two protocols in one
# folder would take each other's finished runs for their own. The report's grid under another preset too.
if [ "$STUDY" != report ] && [ "$PRESET" != "$study_preset" ]; then RESULTS=${RESULTS-results/$STUDY-$PRESET}
elif [ "$STUDY" != report ]; then RESULTS=${RESULTS-results/$STUDY}
elif [ "$PRESET" != report ]; then RESULTS=${RESULTS-results/$PRESET}
else RESULTS=${RESULTS-results}; fi
if [ "$SEEDS $SYM_RATES $ASYM_RATES" != "$study_seeds $study_sym_rates $study_asym_rates" ]; then
    study_rates_from="given here (the study's own: $study_rates_from)"
fi
read -ra extra <<< "$EXTRA"
for a in "${extra[@]}"; do
    case $a in
        --out|--out=*|--loss|--loss=*|--noise|--noise=*|--rate|--rate=*|--seed|--seed=*|--human-label*|--resume|--dataset*|--preset*)
            die "EXTRA may not hold $a: the grid sets it (use RESULTS, DATASET, PRESET, LOSSES, SYM_RATES/ASYM_RATES/HUMAN, SEEDS)" ;;
    esac
done
[[ $RESULTS =~ [[:space:]] || -z $RESULTS ]] && die "RESULTS must be a folder name without spaces, got '$RESULTS'"
[[ $JOBS_PER_GPU =~ ^[1-9][0-9]*$ ]] || die "JOBS_PER_GPU must be a whole number >= 1, got '$JOBS_PER_GPU'"
[ -n "$EPOCHS" ] && extra+=(--epochs "$EPOCHS")

# The grid, in --list order: seed, then setting (the shared clean run first), then loss.
points=()
for seed in $SEEDS; do
    settings=()
    for r in $SYM_RATES; do settings+=("--noise sym --rate $r"); done
    for r in $ASYM_RATES; do settings+=("--noise asym --rate $r"); done
    for h in $HUMAN; do settings+=("--noise human --human-label $h"); done
    for s in "${settings[@]}"; do
        for loss in $LOSSES; do
            points+=("--dataset $DATASET --preset $PRESET $s --loss $loss --seed $seed --out $RESULTS ${extra[*]}")
        done
    done
done
[ ${#points[@]} -gt 0 ] || die "the grid is empty; give LOSSES, SEEDS and at least one rate"

# Every point is checked, and its run directory found, by train.py's own configuration code, before
# anything starts: a typo in LOSSES fails here, not after an hour. Points sharing a run directory
# (the clean run reached from both schedules, an alias beside its loss) are one run.
resolved=$(printf '%s\n' "${points[@]}" | "$PYTHON" "$here/config.py") || exit 2
mapfile -t lines <<< "$resolved"
[ ${#lines[@]} -eq ${#points[@]} ] || die "config.py answered ${#lines[@]} lines for ${#points[@]} grid points"
declare -A seen data_dirs
grid=() dirs=()
for i in "${!points[@]}"; do
    IFS=$'\t' read -r d data_dir dataset human <<< "${lines[$i]}"
    [ -n "${seen[$d]:-}" ] && continue
    seen[$d]=1
    grid+=("${points[$i]}")
    dirs+=("$d")
    key="$data_dir"$'\t'"$dataset"  # what data.py fetches: a folder and a data set
    [ "$human" = True ] && data_dirs[$key]=--human || data_dirs[$key]=${data_dirs[$key]:-}
done
n=${#grid[@]}

state() {  # done | resume | new
    if [ -f "$1/result.json" ]; then echo done; elif [ -f "$1/last.pt" ]; then echo resume; else echo new; fi
}

command_of() {  # the train.py command of point $1, as an array in cmd
    read -ra cmd <<< "${grid[$1]}"
    cmd=("$PYTHON" "$here/train.py" "${cmd[@]}")
    [ "$(state "${dirs[$1]}")" = resume ] && cmd+=(--resume)
}

record_study() {  # RESULTS/study.json: what plot.py lays its study table out by
    mkdir -p "$RESULTS" && [ -w "$RESULTS" ] || die "cannot write into RESULTS=$RESULTS; choose a writable folder"
    "$PYTHON" "$here/presets.py" record "$RESULTS/study.json" "name=$STUDY" "dataset=$DATASET" "preset=$PRESET" \
        "losses=$LOSSES" "seeds=$SEEDS" "sym_rates=$SYM_RATES" "asym_rates=$ASYM_RATES" "human=$HUMAN" \
        "epochs=$EPOCHS" "rates_from=$study_rates_from" || die "cannot write $RESULTS/study.json"
}

if [ "$MODE" = list ]; then
    read -ra nl <<< "$LOSSES"; read -ra ns <<< "$SEEDS"
    echo "study $STUDY: $DATASET, --preset $PRESET${EPOCHS:+, --epochs $EPOCHS}, into $RESULTS"
    echo "  losses (${#nl[@]}): $LOSSES"
    echo "  sym rates: $SYM_RATES; asym rates: $ASYM_RATES${HUMAN:+; human: $HUMAN}; seeds (${#ns[@]}): $SEEDS"
    echo "  rates and seeds from: $study_rates_from"
    for i in "${!grid[@]}"; do printf '%4d  %-6s  %s\n' "$i" "$(state "${dirs[$i]}")" "${dirs[$i]}"; done
    echo "$n runs; done: finished, resume: has last.pt, new: not started"
    exit 0
fi
if [ "$MODE" = dry ]; then
    for i in "${!grid[@]}"; do
        command_of "$i"
        if [ "$(state "${dirs[$i]}")" = done ]; then echo "# $i done: ${dirs[$i]}"; else echo "${cmd[*]}"; fi
    done
    exit 0
fi

prefetch() {  # runs started together on a fresh --data-dir would each download it: fetch it once, first
    local key data_dir dataset
    for key in "${!data_dirs[@]}"; do
        IFS=$'\t' read -r data_dir dataset <<< "$key"
        "$PYTHON" "$here/data.py" --dataset "$dataset" --data-dir "$data_dir" ${data_dirs[$key]} || exit 2
    done
}

ranges() {  # 0 1 2 5 7 8 -> 0-2,5,7-8
    local out="" start=$1 prev=$1 i
    for i in "${@:2}" ""; do
        if [ -n "$i" ] && [ "$i" -eq $((prev + 1)) ]; then prev=$i; continue; fi
        out+="${out:+,}$start$([ "$prev" -gt "$start" ] && echo "-$prev")"
        start=$i prev=$i
    done
    echo "$out"
}

submit() {  # the unfinished points as one Slurm array, and a job that runs plot.py when the array has ended
    command -v sbatch > /dev/null && command -v squeue > /dev/null || die "--submit needs Slurm's sbatch and squeue on the PATH, and there are none here; run it on the cluster's login node, or drop --submit to run the grid on this machine"
    [[ -z $MAX_PARALLEL || $MAX_PARALLEL =~ ^[1-9][0-9]*$ ]] || die "MAX_PARALLEL must be a whole number >= 1, got '$MAX_PARALLEL'"
    mkdir -p "$RESULTS/slurm" && [ -w "$RESULTS/slurm" ] || die "cannot write into RESULTS=$RESULTS; choose a writable folder"
    # The grid is known to Slurm by its results folder: two arrays writing one folder would run points twice.
    local abs name queued todo=() i array collect wrap args plain=()
    read -ra args <<< "$SBATCH_ARGS"
    for i in "${args[@]}"; do
        case $i in
            --array*|-a|--job-name*|-J|--output*|-o|--error*|-e|--wrap*|--dependency*|-d|--export*|--chdir*|-D)
                die "SBATCH_ARGS may not hold $i: --submit sets it (the array, its name, logs, environment and folder)" ;;
        esac
    done
    abs=$(CDPATH='' cd -- "$RESULTS" && pwd -P)
    name="grid-$(basename "$abs")-$(printf '%s' "$abs" | cksum | cut -d' ' -f1)"
    queued=$(squeue -h --name="$name" -o %F) || [ -n "$FORCE" ] ||
        die "cannot ask squeue whether this grid is already queued (its message is above); try again, or add --force"
    queued=$(sort -u <<< "$queued" | paste -sd, -)
    [ -n "$queued" ] && [ -z "$FORCE" ] && die "an array of this grid (RESULTS=$RESULTS) is still queued or running: job $queued; wait for it (squeue -j $queued), cancel it (scancel $queued), or add --force to submit anyway"
    for i in "${!dirs[@]}"; do [ "$(state "${dirs[$i]}")" = done ] || todo+=("$i"); done
    if [ ${#todo[@]} -eq 0 ]; then
        echo "nothing to submit: all $n points of the grid are finished in $RESULTS"; exit 0
    fi
    prefetch
    # Each task is given the whole grid on its command line, in this folder, so it runs the same grid
    # whatever environment the cluster passes on; the GPUs it may use are the ones Slurm gives it.
    wrap=$(printf 'cd %q && SUBMIT= PYTHON=%q bash %q' "$PWD" "$PYTHON" "$here/run_grid.sh")
    record_study
    for i in study dataset preset losses seeds sym-rates asym-rates human epochs results extra; do
        local var=${i//-/_}
        var=${var^^}
        wrap+=$(printf ' --%s %q' "$i" "${!var}")
    done
    array=$(env -u CUDA_VISIBLE_DEVICES sbatch --parsable --job-name="$name" \
            --array="$(ranges "${todo[@]}")${MAX_PARALLEL:+%$MAX_PARALLEL}" --output="$abs/slurm/%A_%a.log" \
            "${args[@]}" --wrap "$wrap") || die "sbatch refused the array (its message is above); nothing was submitted"
    array=${array%%;*}
    for ((i = 0; i < ${#args[@]}; i++)); do  # the collect job needs no GPU: SBATCH_ARGS less its GPU requests
        case ${args[$i]} in
            --gres|--gpus|--gpus-per-*|-G) i=$((i + 1)) ;;  # the request's value is the next word
            --gres=*|--gpus=*|--gpus-per-*=*|-G*) ;;
            *) plain+=("${args[$i]}") ;;
        esac
    done
    collect=$(sbatch --parsable --job-name="$name-collect" --dependency="afterany:$array" \
              --output="$abs/slurm/collect-%j.log" "${plain[@]}" \
              --wrap "$(printf 'cd %q && %q %q %q' "$PWD" "$PYTHON" "$here/plot.py" "$abs")") ||
        die "sbatch refused the collect job (above); the array $array is submitted: run python plot.py $RESULTS when it ends"
    collect=${collect%%;*}
    echo "submitted array job $array: ${#todo[@]} of $n points ($(ranges "${todo[@]}")), $((n - ${#todo[@]})) skipped (already finished)${MAX_PARALLEL:+, at most $MAX_PARALLEL at once}"
    echo "submitted collect job $collect: python plot.py $RESULTS once the array has ended"
    echo "logs: $abs/slurm/${array}_<index>.log per task, and each run's train.log"
    echo "watch: squeue -j $array,$collect   (after: sacct -j $array)   cancel: scancel $array $collect"
    echo "submit again after a failure or a cancel: only what is still missing is submitted"
    exit 0
}

case $SUBMIT in
    ""|0) [ -n "$FORCE" ] && die "--force only applies to --submit" ;;
    1) submit ;;
    *) die "SUBMIT must be 1 (submit to Slurm) or empty, got '$SUBMIT'" ;;
esac

declare -A pid_point pid_slot
declare -a free_slots
done_n=0 skipped=0 failed=()

launch() {  # point $1 on slot $2 (a GPU id, or "cpu"), in the background
    local i=$1 d=${dirs[$1]}
    command_of "$i"
    mkdir -p "$d"
    echo "== $(date '+%F %T') ${cmd[*]}" >> "$d/train.log"
    if [ "$2" = cpu ]; then
        CUDA_VISIBLE_DEVICES="" "${cmd[@]}" >> "$d/train.log" 2>&1 &
    else
        CUDA_VISIBLE_DEVICES=$2 "${cmd[@]}" >> "$d/train.log" 2>&1 &
    fi
    pid_point[$!]=$i
    pid_slot[$!]=$2
    echo "[$(date '+%T')] start $i/$n on $2: ${dirs[$i]}"
}

reap() {  # collect every finished child; their slots become free
    local pid rc
    for pid in "${!pid_point[@]}"; do
        kill -0 "$pid" 2>/dev/null && continue
        wait "$pid"; rc=$?
        local i=${pid_point[$pid]}
        if [ $rc -eq 0 ]; then
            done_n=$((done_n + 1)); echo "[$(date '+%T')] done  $i/$n: ${dirs[$i]}"
        else
            failed+=("${dirs[$i]}/train.log"); echo "[$(date '+%T')] FAIL  $i/$n (exit $rc): ${dirs[$i]}/train.log"
        fi
        free_slots+=("${pid_slot[$pid]}")
        unset "pid_point[$pid]" "pid_slot[$pid]"
    done
}

summary() {
    echo "summary: $n runs: $done_n done, $skipped skipped (already finished), ${#failed[@]} failed"
    for f in "${failed[@]}"; do echo "  failed: $f"; done
}

stop() {  # Ctrl-C or a kill: stop every child; finished runs are untouched, unfinished ones resume next time
    trap - INT TERM
    reap  # runs that ended just now count as done or failed, not as stopped
    echo "interrupted: stopping ${#pid_point[@]} running run(s); run the same command again to finish" >&2
    local pids
    pids=$(jobs -pr)  # every running child, even one started a moment before pid_point knew of it
    [ -n "$pids" ] && kill -TERM $pids 2>/dev/null
    wait
    summary
    echo "  stopped before finishing: ${#pid_point[@]}"
    exit 130
}

if [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    i=$SLURM_ARRAY_TASK_ID
    [[ $i =~ ^[0-9]+$ ]] && [ "$i" -lt "$n" ] || die "SLURM_ARRAY_TASK_ID=$i is outside the grid (0..$((n - 1)))"
    [ "$(state "${dirs[$i]}")" = done ] && { echo "grid point $i is already finished: ${dirs[$i]}"; exit 0; }
    command_of "$i"
    mkdir -p "${dirs[$i]}"
    echo "== $(date '+%F %T') ${cmd[*]}" >> "${dirs[$i]}/train.log"
    # Slurm sets CUDA_VISIBLE_DEVICES to the GPUs it gave the task; a task given none must not take
    # a GPU it was not given, so it runs on the CPU.
    [ -n "${SLURM_JOB_ID:-}" ] && [ -z "${CUDA_VISIBLE_DEVICES+set}" ] && export CUDA_VISIBLE_DEVICES=""
    "${cmd[@]}" >> "${dirs[$i]}/train.log" 2>&1 || { echo "grid point $i failed: ${dirs[$i]}/train.log"; exit 1; }
    echo "grid point $i done: ${dirs[$i]}"
    exit 0
fi

if [ -z "$GPUS" ]; then
    GPUS=$("$PYTHON" -c "import torch; print(torch.cuda.device_count())") || die "cannot import torch with $PYTHON"
fi
[[ $GPUS =~ ^[0-9]+$ ]] || die "GPUS must be a number of GPUs, got '$GPUS'"
if [ "$GPUS" -eq 0 ]; then
    free_slots=(cpu)
else
    # Slot ids are the GPU ids this process may see: CUDA_VISIBLE_DEVICES when set, else 0..GPUS-1.
    IFS=, read -ra ids <<< "${CUDA_VISIBLE_DEVICES:-$(seq -s, 0 $((GPUS - 1)))}"
    [ "$GPUS" -le ${#ids[@]} ] || die "GPUS=$GPUS but only ${#ids[@]} GPU(s) are visible"
    for ((j = 0; j < JOBS_PER_GPU; j++)); do free_slots+=("${ids[@]:0:$GPUS}"); done
fi

record_study
todo=()
for i in "${!dirs[@]}"; do [ "$(state "${dirs[$i]}")" = done ] || todo+=("$i"); done
[ ${#todo[@]} -gt 0 ] && prefetch

trap stop INT TERM
echo "grid: $n runs into $RESULTS, ${#free_slots[@]} at a time ($([ "$GPUS" -eq 0 ] && echo "CPU" ||
    echo "$GPUS GPU(s) x $JOBS_PER_GPU"))"
for i in "${!grid[@]}"; do
    if [ "$(state "${dirs[$i]}")" = done ]; then skipped=$((skipped + 1)); continue; fi
    while [ ${#free_slots[@]} -eq 0 ]; do sleep 1; reap; done
    slot=${free_slots[0]}
    free_slots=("${free_slots[@]:1}")
    launch "$i" "$slot"
done
while [ ${#pid_point[@]} -gt 0 ]; do sleep 1; reap; done
trap - INT TERM

summary
[ $((done_n + skipped)) -gt 0 ] && { "$PYTHON" "$here/plot.py" "$RESULTS" || echo "plot.py failed; the runs are intact"; }
[ ${#failed[@]} -eq 0 ]
