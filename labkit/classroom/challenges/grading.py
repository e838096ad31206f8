"""The grader's half of the challenges: find each handed-in artifact in a student's folder, copy its bytes (never
following a link, within the challenge's size limit) into a job folder of the sandbox, let the sandboxed child
observe it (`probe.observe`: ONNX Runtime runs there, never in the grader), get the observations back through
`wire` and judge them here with the notebook's own `evaluate`. A hand-in that is data, not a model (05's recipe,
`Challenge.reads`), is judged here without the sandbox: its bytes are parsed as JSON and checked, never executed or
unpickled, and what measures it is the kit's own training code. The submission is only read."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

from labkit.classroom import sandbox, wire
from labkit.classroom.challenges import get, probe
from labkit.classroom.challenges.judging import HAND_IN, evaluate, first_hints, ground

PRELOAD = ("onnx", "onnxruntime")  # what the child needs to observe an artifact, imported before its audit hook


def find_artifact(student_dir: Path, artifact: str) -> Path | None:
    """The student's file for a challenge: `submit/<artifact>` (as the notebook writes it) or `<artifact>` beside
    the notebooks; None when neither exists (a broken link counts as existing: it is refused with a sentence)."""
    for path in (student_dir / HAND_IN / artifact, student_dir / artifact):
        if path.exists() or path.is_symlink():
            return path
    return None


def grade_artifacts(challenge_ids: list[str], student_dir: Path, box: sandbox.Sandbox, hidden: list[Path],
                    profile: str, seconds: float) -> dict[str, tuple[str, str]]:
    """challenge id -> (status, message) for one student: missing, error (a file that cannot be measured, with
    why), failed (measured against each target, with the hints) or passed."""
    grades: dict[str, tuple[str, str]] = {}
    work = Path(tempfile.mkdtemp(dir=box.root))
    tasks = {}
    try:
        for k, cid in enumerate(challenge_ids):
            challenge = get(cid)
            path = find_artifact(student_dir, challenge.artifact)
            if path is None:
                grades[cid] = ("missing", f"no {challenge.artifact} handed in (the notebook writes it to "
                                          f"{HAND_IN}/ beside itself; hand that folder in). Hint: "
                               + "; ".join(first_hints(challenge)))
                continue
            try:
                data = probe.read_artifact(path, challenge.max_bytes)
            except (probe.Refused, OSError) as err:
                grades[cid] = ("error", str(err))
                continue
            if challenge.reads is not None:
                grades[cid] = _judge_data(cid, data, profile)
                continue
            (work / f"artifact_{k}.onnx").write_bytes(data)
            wire.save(work / f"requests_{k}", challenge.requests(ground(profile)))
            tasks[cid] = {"id": f"c{k}", "artifact": f"artifact_{k}.onnx", "requests": f"requests_{k}",
                          "output": challenge.output, "seconds": min(seconds, box.limits.seconds)}
        if tasks:
            (work / "job.json").write_text(json.dumps({"hidden": [str(h) for h in hidden],
                                                       "tasks": list(tasks.values())}))
            grades.update(_run(tasks, box, work, profile))
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return grades


def _judge_data(cid: str, data: bytes, profile: str) -> tuple[str, str]:
    """The verdict on a hand-in that is data: `reads` parses and checks it (probe.Refused: an error with its
    sentence) and measures it with the kit's code, cached per recipe and profile within this grading process."""
    challenge = get(cid)
    try:
        judgement = evaluate(challenge, challenge.reads(data, profile), profile)
    except probe.Refused as err:
        return "error", str(err)
    return judgement.status, judgement.message()


def _run(tasks: dict[str, dict], box: sandbox.Sandbox, work: Path, profile: str) -> dict[str, tuple[str, str]]:
    """Run the job (again, past a task that crashed its child) and judge each observation."""
    grades: dict[str, tuple[str, str]] = {}
    while len(grades) < len(tasks):
        finished = box.run(work.name)
        progress = False
        for cid, task in tasks.items():
            if cid in grades:
                continue
            answer, started = work / "answers" / task["id"], work / "answers" / f"{task['id']}.started"
            if answer.with_suffix(".json").exists():
                grades[cid] = _verdict(cid, answer, profile)
            elif started.exists():
                why = finished.why or "ended without answering"
                grades[cid] = ("error", f"measuring it, the sandboxed process {why}")
            else:
                continue
            progress = True
        if not progress:
            for cid in tasks:
                grades.setdefault(cid, ("error", f"the sandboxed process {finished.why or 'ended without answering'}"))
    return grades


def _verdict(cid: str, answer: Path, profile: str) -> tuple[str, str]:
    try:
        outcome = wire.load(answer)[0]
    except (ValueError, IndexError, KeyError) as err:
        return "error", f"its measurements could not be read: {err}"
    if outcome["kind"] == "timeout":
        return "error", f"measuring it ran out of time: {outcome['message']}"
    if outcome["kind"] != "value" or not isinstance(outcome.get("value"), dict):
        said = outcome.get("message", "")
        return "error", said if "Refused" in outcome.get("types", ()) else f"it could not be measured: {said[:200]}"
    try:
        judgement = evaluate(get(cid), outcome["value"], profile)
    except (KeyError, TypeError, ValueError) as err:  # observations of an unexpected shape
        return "error", f"its measurements are malformed: {type(err).__name__}: {str(err)[:200]}"
    return judgement.status, judgement.message()
