"""The `labkit` command: run, verify, report, doctor, train, release, grade, docs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from labkit.core.cpu import PERSONALITIES


def _run(args) -> int:
    from labkit.core import notebooks
    from labkit.measure.report import write_report

    chosen = [notebooks.find_notebook(n) for n in args.notebooks] or notebooks.all_notebooks()
    out = notebooks.run(chosen, Path(args.out) if args.out else None, args.profile, args.target, args.seed,
                        args.timeout, personality=args.cpu_personality)
    write_report(out)
    summary = json.loads((out / "summary.json").read_text())
    failed = [k for k, v in summary["notebooks"].items() if v["status"] != "ok"]
    for name, r in summary["notebooks"].items():
        print(f"{r['status']:6s} {r['seconds']:7.1f}s  {name}")
    print(f"run folder: {out}\nreport:     {out / 'report.html'}")
    return 1 if failed else 0


def _verify(args) -> int:
    from labkit.core import notebooks
    from labkit.measure import acceptance
    from labkit.measure.report import write_report

    if args.run:
        out = Path(args.run)
    else:
        chosen = [notebooks.find_notebook(n) for n in args.notebooks] or notebooks.all_notebooks()
        out = notebooks.run(chosen, Path(args.out) if args.out else None, args.profile, args.target, args.seed,
                            args.timeout)
        write_report(out)
    try:
        report = acceptance.verify_run(out)
    except (FileNotFoundError, ValueError) as err:
        print(f"labkit verify: {err}", file=sys.stderr)
        return 1
    print(acceptance.frame(report.verdicts).drop(columns=["why"]).to_string(index=False, max_colwidth=70))
    for v in report.verdicts:
        if v.why and v.passed is not None:
            print(f"  {v.bar.name}: {v.why}")
    for name, why in report.failed_notebooks.items():
        print(f"FAILED {name}: {why}")
    counts = {m: sum(acceptance.MARKS[v.passed] == m for v in report.verdicts) for m in ("ok", "not met", "--")}
    print(f"{report.profile} profile, run folder {out}: {counts['ok']} bars met, {counts['not met']} not met, "
          f"{counts['--']} left to class/full" + (f", {len(report.failed_notebooks)} notebook(s) failed"
                                                   if report.failed_notebooks else ""))
    return 0 if report.passed else 1


def _docs(args) -> int:
    from labkit.cli.docs import run_docs

    return run_docs(args.check)


def _report(args) -> int:
    from labkit.measure.markdown_report import write_markdown
    from labkit.measure.report import write_report

    print(write_markdown(args.run) if args.markdown else write_report(args.run))
    return 0


def _doctor(args) -> int:
    from labkit.cli.doctor import run_doctor

    return run_doctor()


def _train(args) -> int:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.model == "lm":
        from labkit.core.lm import model_dir
        from labkit.core.lm_train import RECIPE, train_lm

        manifest = train_lm(Path(args.out) if args.out else model_dir(), args.steps or RECIPE["steps"], args.seed,
                            args.force)
        print(f"held-out loss {manifest['held_out_loss_per_char']:.4f} nats/char in {manifest['train_seconds']} s")
        return 0
    from labkit.core.models import weights_dir
    from labkit.core.teacher import train_teacher

    manifest = train_teacher(Path(args.out) if args.out else weights_dir(), args.epochs, args.seed, args.force)
    print(f"test accuracy {manifest['test_accuracy']:.2%} in {manifest['train_seconds']} s")
    return 0


def _release(args) -> int:
    from labkit.classroom.release import release

    done = release(Path(args.out) if args.out else None, force=args.force)
    if done.moved:
        print(f"kept {len(done.moved)} edited notebook(s), moved unchanged into {done.backup}: {', '.join(done.moved)}")
    print(f"student edition: {len(done.notebooks)} notebooks in {done.notebooks[0].parent}")
    return 0


def _grade(args) -> int:
    from labkit.classroom.grade import grade

    out = grade(args.submissions, Path(args.out) if args.out else None, args.profile, args.timeout,
                args.notebooks or None, args.jobs, args.run_notebooks)
    print(f"gradebook: {out / 'gradebook.csv'}\n           {out / 'gradebook.html'}\nscores:    {out / 'scores.csv'}\n"
          f"feedback:  {out / 'students'}/<student>/feedback.html")
    return 0


def _grade_bench(args) -> int:
    from labkit.classroom.classbench import benchmark
    from labkit.core.notebooks import prepare_out

    r = benchmark(prepare_out(Path(args.out)), args.students, args.jobs)
    print(f"graded {r['students']} students x {r['exercises']} exercises in {r['seconds']:.1f} s with --jobs "
          f"{r['jobs']} (isolation: {r['isolation']}); this time depends on the machine and on what else ran on it")
    print("gradebook exactly as expected" if not r["differences"] else
          f"{len(r['differences'])} difference(s) from the expected gradebook:\n  " + "\n  ".join(r["differences"]))
    return 0 if not r["differences"] else 1


def _run_options(p: argparse.ArgumentParser) -> None:
    """The options `run` and `verify` share: which notebooks, in which profile, on which target, into which folder."""
    p.add_argument("notebooks", nargs="*", help="names, numbers (03) or paths; default: all")
    p.add_argument("--profile", default="class", choices=["smoke", "class", "full"])
    p.add_argument("--target", default="auto")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", help="a new or empty folder (default: a new folder under runs/)")
    p.add_argument("--timeout", type=int, default=None,
                   help="seconds allowed per cell; a cell that runs 90%% of it writes where each thread is to "
                        "stacks-NOTEBOOK.txt in the run folder")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="labkit", description="the labkit command")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("run", help="execute notebooks headlessly into a run folder")
    _run_options(p)
    p.add_argument("--cpu-personality", choices=sorted(PERSONALITIES), default=None,
                   help="run as on a lower CPU: torch, oneDNN and OpenVINO capped at its instruction set; "
                        + "; ".join(f"{persona.name} cannot cap {', '.join(persona.cannot_force)}"
                                    for persona in PERSONALITIES.values()))
    p.set_defaults(fn=_run)
    p = sub.add_parser("verify", help="run the notebooks, check every promise they make (exit 1 if one fails)")
    _run_options(p)
    p.add_argument("--run", help="check an existing run folder instead of running the notebooks")
    p.set_defaults(fn=_verify)
    p = sub.add_parser("report", help="write report.html (or results.md) for a run folder")
    p.add_argument("run")
    p.add_argument("--markdown", action="store_true",
                   help="write results.md instead: the results as a Markdown page (a table per notebook)")
    p.set_defaults(fn=_report)
    p = sub.add_parser("doctor", help="check versions, CPU flags, targets, data and the kernel")
    p.set_defaults(fn=_doctor)
    p = sub.add_parser("train", help="reproduce shipped weights")
    p.add_argument("model", choices=["teacher", "lm"])
    p.add_argument("--epochs", type=int, default=8, help="teacher: passes over the training set")
    p.add_argument("--steps", type=int, default=None, help="lm: optimiser steps (default: the shipped recipe's)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=None)
    p.add_argument("--out", help="folder for the weights and their manifest (default: data/weights for the teacher, "
                                  "data/weights/shakespeare-lm for lm)")
    p.add_argument("--force", action="store_true", help="replace existing weights")
    p.set_defaults(fn=_train)
    p = sub.add_parser("release", help="write the student edition (solutions replaced by stubs)")
    p.add_argument("--out", help="folder for the student notebooks (default: student/)")
    p.add_argument("--force", action="store_true",
                   help="release even where notebooks were edited since the last release, moving them into a dated "
                        "backup folder first (files the kit did not write are never touched)")
    p.set_defaults(fn=_release)
    p = sub.add_parser("grade", help="grade students' exercises and challenge files in a sandbox and write a "
                                      "gradebook (CSV and HTML)")
    p.add_argument("submissions", help="a folder with one subfolder per student holding NN_*.ipynb notebooks (and "
                                       "submit/, the challenges' files)")
    p.add_argument("--notebooks", nargs="*", help="notebook numbers to grade (default: all submitted)")
    p.add_argument("--profile", default="smoke", choices=["smoke", "class", "full"],
                   help="the profile of --run-notebooks runs and of the challenges' targets and test images "
                        "(default smoke)")
    p.add_argument("--timeout", type=float, default=120,
                   help="seconds allowed per student's sandboxed run, and per notebook with --run-notebooks "
                        "(default 120)")
    p.add_argument("--jobs", type=int, default=1, help="students graded at once (default 1)")
    p.add_argument("--run-notebooks", action="store_true",
                   help="also run each notebook whole (unsandboxed, as the grader's user) to report where it stopped; "
                        "the grades still come from the sandbox")
    p.add_argument("--out", help="a new or empty folder (default: a new folder under runs/)")
    p.set_defaults(fn=_grade)
    p = sub.add_parser("docs", help="rewrite the generated tables of README.md and the notebooks' time lines")
    p.add_argument("--check", action="store_true", help="change nothing; exit 1 if anything is stale")
    p.set_defaults(fn=_docs)
    p = sub.add_parser("grade-bench", help="generate a class of mixed submissions, grade it, report the time taken")
    p.add_argument("--out", required=True, help="a new or empty folder for the submissions and the gradebook")
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--jobs", type=int, default=2)
    p.set_defaults(fn=_grade_bench)
    args = parser.parse_args(argv)
    try:
        return args.fn(args)
    except (FileNotFoundError, FileExistsError, NotADirectoryError, ValueError, RuntimeError) as err:
        print(f"labkit {args.command}: {err}", file=sys.stderr)
        return 2

