"""`labkit doctor`: is this machine ready for the kit? Each problem comes with what to do."""

from __future__ import annotations

import sys
from importlib import metadata

from labkit.core.cpu import bf16_outlook, cpu_info, flags_for, int8_outlook
from labkit.core.sysinfo import versions
from labkit.measure.checks import Check, line


def _pins() -> dict[str, str]:
    """name -> pinned version, from the installed labkit's own metadata."""
    from packaging.requirements import Requirement

    pins = {}
    for requirement in metadata.requires("labkit") or []:
        req = Requirement(requirement)
        if req.marker is not None and not req.marker.evaluate({"extra": ""}):
            continue  # another platform's pin, or a test extra
        pins[req.name.lower()] = str(req.specifier).removeprefix("==")
    return pins


def check_versions() -> list[Check]:
    out = [Check("python", sys.version_info[:2] == (3, 11), sys.version.split()[0],
                 "the kit is pinned for Python 3.11; create the venv with python3.11")]
    try:
        pins = _pins()
    except metadata.PackageNotFoundError:
        return out + [Check("labkit installed", False, "labkit is not installed in this interpreter",
                            "run `make lab` or `pip install -e .` from the kit's folder")]
    for name, want in sorted(pins.items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            out.append(Check(name, False, "missing", "run `make lab` again (it reinstalls the pins)"))
            continue
        ok = have.split("+")[0] == want
        out.append(Check(name, ok, have if ok else f"{have}, pinned {want}",
                         "" if ok else f"pip install '{name}=={want}' (or recreate .venv: rm -rf .venv && make lab)"))
    return out


def check_data() -> list[Check]:
    from labkit.core import data, models

    out = []
    try:
        data.verify_checksums()
        out.append(Check("fashion-mnist checksums", True, "all 4 files match SHA256SUMS"))
    except data.DataError as err:
        out.append(Check("fashion-mnist checksums", False, str(err)))
    try:
        models.load_teacher()
        acc = models.teacher_manifest()["test_accuracy"]
        out.append(Check("teacher weights", True, f"checksum ok, manifest test accuracy {acc:.2%}"))
    except (FileNotFoundError, ValueError) as err:
        out.append(Check("teacher weights", False, str(err)))
    return out


def check_kernel() -> Check:
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec("labkit")
    except NoSuchKernel:
        return Check("jupyter kernel 'labkit'", False, "not registered",
                     "python -m ipykernel install --sys-prefix --name labkit --display-name 'Python (labkit)'")
    ok = spec.argv[0] in (sys.executable, "python") or spec.argv[0].startswith(sys.prefix)
    return Check("jupyter kernel 'labkit'", ok, spec.argv[0],
                 "" if ok else "it points at another Python; re-register it from this venv (make lab does)")


def check_runtimes() -> list[Check]:
    """Per runtime of the registry: its version and what it loads, then each device it found."""
    from labkit.core import registry

    out = []
    for rt in registry.RUNTIMES:
        names = f" (ledger names {', '.join(rt.names)})" if rt.aliases else ""
        out.append(Check(rt.name, None, f"{rt.version() or 'not installed'}, loads {', '.join(rt.loads)}{names}"))
        out += [Check(f"{b.runtime}:{b.device}", None, ("available " if b.available else "unavailable: ") + b.reason)
                for b in rt.backends()]
    return out


def check_converters() -> list[Check]:
    """Each converter that lives in an environment of its own (labkit.techniques.converter_env): there, and its
    version."""
    from labkit.techniques.converter_env import CONVERTERS, ConverterError, converter_python, converter_version

    out = []
    for name, (folder, _) in CONVERTERS.items():
        try:
            version = converter_version(name)
            out.append(Check(f"{name} ({folder})", True, f"{name} {version} in {converter_python(name)}"))
        except ConverterError as err:
            out.append(Check(f"{name} ({folder})", False, str(err).splitlines()[0], "run `make setup`"))
    return out


def check_sandbox() -> Check:
    """Whether `labkit grade` can isolate submissions with bubblewrap (informational: the fallback works)."""
    from labkit.classroom.sandbox import bubblewrap, isolation

    why = bubblewrap()
    return Check("grading sandbox (bubblewrap)", None, ("available: " if not why else "not in use: ") + isolation()
                 + ("" if not why or sys.platform != "linux" else "; to use it: apt-get install bubblewrap"))


def run_doctor() -> int:
    """Print every check; return 1 if any real problem was found."""
    info = cpu_info()
    forced = f", personality {info['personality']} forced" if info["personality"] else ""
    print(f"CPU: {info['model']} ({info['arch']}, {info['cores']} cores{forced})")
    for flag, meaning in flags_for(info["arch"]).items():
        print(f"  {'yes' if info['flags'][flag] else 'no '} {flag:12s} {meaning}")
    print(f"  -> {int8_outlook()}")
    print(f"  -> {bf16_outlook()}")
    sections = {"versions": check_versions(), "data": check_data(), "kernel": [check_kernel()],
                "converter environments": check_converters(),
                "runtimes and devices (informational)": check_runtimes(), "grading (informational)": [check_sandbox()]}
    problems = 0
    for title, checks in sections.items():
        print(f"\n{title}")
        for c in checks:
            print("  " + line(c))
            problems += c.passed is False
    print(f"\n{problems} problem(s) found." if problems else "\nAll good.")
    print("installed:", ", ".join(f"{k} {v}" for k, v in versions().items()))
    return 1 if problems else 0
