"""Challenges with the real tools, judged by measurement (one module per notebook: nb01.py ...). The learner
writes the real call (`torch.onnx.export`, tf2onnx, `quantize_static`, a torch-pruning pruner, a distillation run,
ORT's 4-bit quantizer) and hands in the artifact it produces; the kit measures that file against declared targets
(`judging.Target`: claim, threshold per profile, the knob to turn). Notebook 05 hands in a recipe instead (the knobs
of its distillation loss, as JSON): the kit trains with it and measures what that training gives. In a notebook:

    path = lk.challenges.hand_in("01.serving_onnx")   # submit/01_serving.onnx beside the notebook
    ... the learner's call writes `path` ...
    lk.challenges.judge("01.serving_onnx", path, S)   # a table: target, measured, verdict; hints; never raises

`judge` records to RUN/challenges.jsonl; `labkit grade` measures the handed-in file again inside its sandbox
(`grading`) with the same `evaluate`, and never trusts what a notebook printed."""

from __future__ import annotations

from pathlib import Path

from labkit.classroom.challenges import nb01, nb02, nb03, nb04, nb05, nb06, nb07
from labkit.classroom.challenges.judging import HAND_IN, RECORDS, Challenge, Judgement, judge_file, record
from labkit.core.paths import env_path

__all__ = ["CHALLENGES", "RECORDS", "get", "grade_id", "hand_in", "judge", "of_notebook", "readme_table"]

CHALLENGES: dict[str, Challenge] = {c.id: c for nb in (nb01, nb02, nb03, nb04, nb05, nb06, nb07) for c in nb.CHALLENGES}


def get(challenge_id: str) -> Challenge:
    """The challenge with this id ("01.serving_onnx")."""
    if challenge_id not in CHALLENGES:
        raise ValueError(f"unknown challenge {challenge_id!r}; the kit has: {', '.join(CHALLENGES)}")
    return CHALLENGES[challenge_id]


def of_notebook(notebook: str) -> list[Challenge]:
    """The challenges of a notebook, by its number ("03") or file stem."""
    number = Path(notebook).name[:2]
    return [c for c in CHALLENGES.values() if c.notebook == number]


def grade_id(challenge: Challenge, check: bool = False) -> str:
    """The nbgrader `grade_id` of a challenge's cell ("01-serving_onnx") or of its judge cell ("...-check")."""
    return challenge.id.replace(".", "-", 1) + ("-check" if check else "")


def hand_in(challenge_id: str) -> Path:
    """Where the learner's call writes the challenge's artifact: `submit/<artifact>` beside the notebook (the
    folder handed in with it), or RUN/submit/ in a headless run (`labkit run`, the tests), so that nothing is
    written into the kit's notebook folders. The folder is created."""
    run = env_path("LABKIT_RUN_DIR")
    folder = (run if run is not None else Path.cwd()) / HAND_IN
    folder.mkdir(parents=True, exist_ok=True)
    return folder / get(challenge_id).artifact


def judge(challenge_id: str, path: str | Path | None = None, session=None) -> Judgement:
    """Measure the artifact at `path` (default: `hand_in(challenge_id)`) against the challenge's targets in the
    session's profile, record the verdict in its run folder and return it (a notebook shows it as a table with
    hints). Never raises on the learner's file: a missing or unreadable one is a verdict with a sentence."""
    challenge = get(challenge_id)
    profile = session.profile.name if session is not None else "class"
    judgement = judge_file(challenge, hand_in(challenge_id) if path is None else path, profile)
    record(judgement, session.run_dir if session is not None else env_path("LABKIT_RUN_DIR"))
    return judgement


def readme_table() -> str:
    """The README's table of challenges (Markdown): id, the file handed in, the task and what is measured."""
    rows = ["| challenge | hand in | the task | what is measured, against which targets |", "|---|---|---|---|"]
    for c in CHALLENGES.values():
        targets = "; ".join(t.claim.format(t=format(t.published, t.digits)) for t in c.targets)
        cells = [f"`{c.id}`", f"`submit/{c.artifact}`", c.task, f"{c.measures}: {targets}"]
        rows.append("| " + " | ".join(x.replace("|", r"\|").replace("\n", " ") for x in cells) + " |")
    return "\n".join(rows)
