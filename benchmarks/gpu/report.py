"""The GPU benchmark's printed table and the list of what failed."""

from __future__ import annotations


def _f(value, digits: int = 2) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def table(record: dict) -> str:
    env, res = record["environment"], record["results"]
    lines = [
        f"device: {env.get('gpu', env['device'])}, driver {env.get('driver')}, torch {env['torch']} "
        f"(CUDA {env.get('cuda')}), CPU {env['cpu']}, {env['date']}",
        "",
        "training (steps/s | paper length h | peak GiB)",
    ]
    trainings = {"Patch2Loc": res.get("patch2loc_training") or {}}
    trainings.update({m: (r.get("training") or {}) for m, r in (res.get("methods") or {}).items()})
    for method, rows in trainings.items():
        for variant, row in rows.items():
            if isinstance(row, dict) and "steps_per_s" in row:
                lines.append(
                    f"  {method:15s} {variant:8s} {_f(row['steps_per_s']):>9s} {_f(row['paper_steps_h']):>7s} "
                    f"{_f(row['peak_gib']):>7s}"
                )
    lines += ["", "scoring one volume (s | peak GiB)"]
    for name, row in (res.get("heatmap") or {}).items():
        if isinstance(row, dict) and "seconds" in row:
            lines.append(f"  Patch2Loc {name:16s} {_f(row['seconds']):>8s} {_f(row.get('peak_gib')):>7s}")
    for method, rows in (res.get("methods") or {}).items():
        row = rows.get("scoring") or {}
        if "seconds_per_volume" in row:
            lines.append(
                f"  {method:26s} {_f(row['seconds_per_volume']):>8s} {_f(row.get('peak_gib')):>7s}"
                f"  streamed {_f(row.get('streamed_s_per_volume'), 3)} (network {_f(row.get('streamed_model_seconds'), 3)})"
            )
    job = res.get("job") or {}
    timed = {m: r for m, r in job.items() if isinstance(r, dict) and "pipelined_s_per_volume" in r}
    if timed:
        lines += ["", f"a scoring job, s/volume ({job.get('volumes')} volumes, {job.get('graders')} grading threads)"]
        for method, row in timed.items():
            lines.append(
                f"  {method:15s} one by one {_f(row['sequential_s_per_volume']):>6s}, "
                f"pipelined {_f(row['pipelined_s_per_volume']):>6s}"
            )
    agree = (res.get("heatmap") or {}).get("agreement") or {}
    if agree:
        lines += ["", "precision agreement with fp32 (max |diff| raw, post-processed; AUPRC)"]
        for amp, row in agree.items():
            lines.append(
                f"  {amp:13s} {_f(row.get('max_abs_diff_raw'), 4):>9s} {_f(row.get('max_abs_diff_post'), 4):>9s} "
                f"{_f(row.get('auprc'), 4):>8s}"
            )
    pred = res.get("predict") or {}
    if "wall_s" in pred:
        lines += [
            "",
            f"predict one scan: {_f(pred['wall_s'], 1)} s end to end = scoring {_f(pred['scoring_s'], 1)} s "
            f"+ the rest (reading, registration, N4, normalisation, outputs) {_f(pred['rest_s'], 1)} s",
        ]
    hours = record.get("gpu_hours") or {}
    if hours:
        lines += ["", "paper run, GPU hours held (trainings x h each + scorings x s each; the scorings' network alone)"]
        for method, row in hours.items():
            if method == "total":
                need = row.get("need_gpu_h")
                lines.append(f"  {'total':15s} {_f(row['gpu_h'], 1):>8s} GPU-h held, the networks need {_f(need, 1)}")
                continue
            lines.append(
                f"  {method:15s} {row['trainings']:3d} x {_f(row['hours_per_training'])} h ({row['precision']})"
                f" + {row.get('scorings', 0):6d} x {_f(row.get('seconds_per_volume'))} s = "
                f"{_f(row['gpu_h'], 1)} GPU-h; networks {_f(row.get('need_gpu_h'), 1)} h"
                f" (x{_f(row.get('held_over_need'))})"
            )
    return "\n".join(lines)


def failures(record: dict) -> list[str]:
    """'part: error' for every measure that raised (skipped ones are not failures: the budget)."""
    out = []

    def walk(node, path):
        if isinstance(node, dict):
            if "error" in node and isinstance(node["error"], str):
                out.append(f"{path}: {node['error']}")
            for key, value in node.items():
                walk(value, f"{path}/{key}" if path else key)

    walk(record.get("results") or {}, "")
    return out
