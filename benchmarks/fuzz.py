"""The long fuzz run: 100,000+ hostile inputs through mdmtool's core, within a time budget.

Inputs are byte-level mutations of the fixture corpus, random Codex-shaped documents,
plists with good and broken base64 payloads, JSON fleet documents and ``-c`` strings
(generators in tests/hardening/mutate.py). Each goes to one target:

  parse     tomlio.parse_toml; must agree with tomllib or name a Codex limit
  override  tomlio.parse_override
  validate  schemas.validate_text: findings, each naming the file
  redact    redact.redact_toml_text: a planted secret never survives
  resolve   the text as one layer of a scratch machine -> resolve() -> JSON and text views
  lint      every lint rule over the text as a config or requirements file
  mdm       a plist file -> mdm.read_payload -> the decoded TOML parsed
  diff      diff.diff_sides of two texts, rendered as text, json and github
  fleet     fleet._load_one of a mutated effective document

A failure is an exception other than MdmError, a broken property, or an input slower than
--slow seconds. Each is printed with a reproducer (``--replay TARGET:SEED``) and its
input saved under --out. Exit 1 when anything failed.

    python benchmarks/fuzz.py --budget 600            # CI: ten minutes, whatever count
    python benchmarks/fuzz.py --inputs 100000         # until 100,000 inputs
    python benchmarks/fuzz.py --replay parse:12345 --input .bench-fuzz/parse-12345.0.bin
                                                      # rerun one input, with a traceback
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import sys
import tempfile
import time
import tomllib
import traceback
from collections import Counter

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, ROOT)
os.environ.setdefault("MDMTOOL_NO_CACHE", "1")  # every input takes the full path

from mdmtool.errors import MdmError  # noqa: E402
from tests.hardening import mutate  # noqa: E402
from tests.hardening.harness import corpus  # noqa: E402

WEIGHTS = {"parse": 40, "override": 10, "redact": 10, "validate": 12, "mdm": 12, "resolve": 6,
           "lint": 5, "diff": 5, "fleet": 5}


class PropertyBroken(AssertionError):
    pass


def check(cond: bool, what: str) -> None:
    if not cond:
        raise PropertyBroken(what)


class Fuzzer:
    def __init__(self, work: str):
        self.corpus = corpus()
        self.work = work
        self.effective_doc: str | None = None
        #: saved failing inputs (--input), used in order instead of generated ones
        self.fixed: list[bytes] = []
        #: the inputs the current target consumed (saved when it fails)
        self.consumed: list[bytes] = []

    # -- inputs
    def toml_bytes(self, rng: random.Random) -> bytes:
        if rng.random() < 0.7:
            base = rng.choice(self.corpus).encode()
        else:
            base = mutate.dump_toml(mutate.random_doc(rng, rng.choice(["config", "requirements"]))).encode()
        return self.take(mutate.apply_ops(base, mutate.random_ops(rng)) if rng.random() < 0.9 else base)

    def take(self, generated: bytes) -> bytes:
        """The input to use: a saved one when replaying, else the generated one."""
        data = self.fixed.pop(0) if self.fixed else generated
        self.consumed.append(data)
        return data

    def toml_text(self, rng: random.Random) -> str:
        return self.toml_bytes(rng).decode("utf-8", "replace")

    # -- targets (each returns nothing; raises on failure)
    def t_parse(self, rng: random.Random) -> None:
        from mdmtool.tomlio import TomlSyntaxError, Unsupported, parse_toml
        text = self.toml_text(rng)
        try:
            expected = tomllib.loads(text.removeprefix("\ufeff"))
            verdict = "ok"
        except tomllib.TOMLDecodeError:
            verdict = "syntax"
        except RecursionError:
            verdict = "deep"
        try:
            data = parse_toml(text, "f.toml")
        except TomlSyntaxError as exc:
            limit = "recursion limit" in exc.message or "cannot recurse" in exc.message
            check(exc.file == "f.toml", "syntax error without the file name")
            check(verdict != "ok" or limit, f"refused what tomllib accepts: {exc}")
            check(limit or exc.line is not None or verdict == "deep", f"no position: {exc}")
            return
        except Unsupported:
            check(verdict == "ok", "Unsupported for text tomllib refuses")
            return
        if verdict == "ok":  # repr: NaN is not equal to itself
            check(repr(data) == repr(expected), "parsed differently from tomllib")

    def t_override(self, rng: random.Random) -> None:
        from mdmtool.tomlio import parse_override
        key = rng.choice(["model", "a.b", "mcp_servers.x.env.T", "", " ", ".".join("k" * 90), "é"])
        raw = self.toml_text(rng)[: rng.randint(0, 200)]
        try:
            parse_override(f"{key}={raw}")
        except MdmError:
            pass

    def t_validate(self, rng: random.Random) -> None:
        from mdmtool.schemas import validate_text
        kind = rng.choice(["config", "requirements", "managed-config"])
        try:
            findings = validate_text(self.toml_text(rng), kind, "f.toml")
        except MdmError:
            return
        check(all(f.source.file == "f.toml" for f in findings), "finding names another file")

    def t_redact(self, rng: random.Random) -> None:
        from mdmtool.redact import redact_toml_text
        secret = f"PLANTED-{rng.getrandbits(32):x}-s3cr3t"
        text = self.toml_text(rng)
        where = rng.choice([f'\n[mcp_servers.z.env]\nAPI_TOKEN = "{secret}"\n',
                            f'\napi_key = "{secret}"\n', f'\nx = {{ password = "{secret}" }}\n',
                            f'\nenv = {{ A = """{secret}""" }}\n'])
        pos = text.rfind("\n", 0, rng.randint(0, len(text))) + 1 if text else 0
        planted = text[:pos] + where + text[pos:]
        check(secret not in redact_toml_text(planted), "planted secret survived redact_toml_text")

    def t_resolve(self, rng: random.Random) -> None:
        from mdmtool.model import ResolveInputs
        from mdmtool.resolve import resolve
        base = tempfile.mkdtemp(dir=self.work)
        try:
            etc, home, proj = (os.path.join(base, d) for d in ("etc", "home", "proj"))
            for d in (etc, home, os.path.join(proj, ".codex"), os.path.join(proj, ".git")):
                os.makedirs(d)
            layer = rng.choice([f"{etc}/requirements.toml", f"{etc}/config.toml", f"{home}/config.toml",
                                f"{etc}/managed_config.toml", f"{proj}/.codex/config.toml"])
            with open(layer, "wb") as fh:
                fh.write(self.toml_bytes(rng))
            if rng.random() < 0.5:
                with open(f"{home}/config.toml", "ab") as fh:
                    fh.write(f'\n[projects."{proj}"]\ntrust_level = "trusted"\n'.encode())
            overrides = [f"{rng.choice(['model', 'sandbox_mode', 'features.x'])}="
                         f"{self.toml_text(rng)[:60]}"] if rng.random() < 0.2 else []
            try:
                policy = resolve(ResolveInputs(system_dir=etc, codex_home=home, cwd=proj, overrides=overrides))
            except MdmError:
                return
            json.dumps(policy.to_json())
            from mdmtool.commands.effective import render_text
            render_text(policy)
            check(policy.ok == (not policy.errors), "ok disagrees with errors")
        finally:
            shutil.rmtree(base, ignore_errors=True)

    def t_lint(self, rng: random.Random) -> None:
        from mdmtool.lint.discover import file_unit
        from mdmtool.lint.engine import lint_unit
        path = os.path.join(self.work, rng.choice(["config.toml", "requirements.toml",
                                                   "managed_config.toml", "x.config.toml"]))
        with open(path, "wb") as fh:
            fh.write(self.toml_bytes(rng))
        try:
            findings = lint_unit(file_unit([path]))
        except MdmError:
            return
        check(all(f.source.file for f in findings), "a finding without a file")

    def t_mdm(self, rng: random.Random) -> None:
        from mdmtool.mdm import read_payload
        from mdmtool.tomlio import parse_toml
        data = mutate.random_plist(rng, self.corpus[:200] + ["", "a = " + "[" * 90])
        if rng.random() < 0.5:
            data = mutate.apply_ops(data, mutate.random_ops(rng))
        data = self.take(data)
        path = os.path.join(self.work, "p.plist")
        with open(path, "wb") as fh:
            fh.write(data)
        try:
            payload = read_payload(path, strict=rng.random() < 0.5)
        except MdmError:
            return
        for text in (payload.config_toml, payload.requirements_toml):
            if text is not None:
                try:
                    parse_toml(text, "payload")
                except MdmError:
                    pass

    def t_diff(self, rng: random.Random) -> None:
        from mdmtool.diff import diff_sides, side_from_text
        from mdmtool.reporters.diff_formats import render
        try:
            a = side_from_text(self.toml_text(rng), "a.config.toml")
            b = side_from_text(self.toml_text(rng), rng.choice(["b.config.toml", "requirements.toml"]))
            result = diff_sides(a, b, rng.choice([None, "config", "requirements"]))
        except MdmError:
            return
        for fmt in ("text", "json", "github"):
            render(fmt, result, fail_on=("widening",))

    def t_fleet(self, rng: random.Random) -> None:
        from mdmtool.fleet import _load_one, host_row
        if self.effective_doc is None:
            from mdmtool.model import ResolveInputs
            from mdmtool.resolve import resolve
            d = tempfile.mkdtemp(dir=self.work)
            self.effective_doc = json.dumps(resolve(ResolveInputs(system_dir=d, codex_home=d, cwd=d)).to_json())
        raw = self.take(mutate.apply_ops(self.effective_doc.encode(), mutate.random_ops(rng)))
        doc = _load_one(raw.decode("utf-8", "replace"), "host.json")
        if doc.doc is not None:
            host_row(doc.doc, "host.json")

    def run(self, target: str, seed: int) -> None:
        self.consumed = []
        getattr(self, f"t_{target}")(random.Random(seed))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=float, default=None, help="stop after this many seconds")
    ap.add_argument("--inputs", type=int, default=None, help="stop after this many inputs")
    ap.add_argument("--seed", type=int, default=None, help="first seed (default: random)")
    ap.add_argument("--slow", type=float, default=10.0, help="an input slower than this fails")
    ap.add_argument("--out", default=os.path.join(ROOT, ".bench-fuzz"), help="where failing inputs go")
    ap.add_argument("--only", action="append", choices=sorted(WEIGHTS), help="fuzz only these targets")
    ap.add_argument("--replay", help="TARGET:SEED: run one input and show its traceback")
    ap.add_argument("--input", action="append", help="with --replay: the saved input file (the seed alone regenerates "
                    "the same input only while the fixture corpus is unchanged)")
    args = ap.parse_args()
    sys.setrecursionlimit(1000)  # what the CLI runs with
    work = tempfile.mkdtemp(prefix="mdmtool-fuzz-", dir="/var/tmp" if os.path.isdir("/var/tmp") else None)
    try:
        fz = Fuzzer(work)
        if args.replay:
            target, seed = args.replay.split(":")
            for path in args.input or []:
                with open(path, "rb") as fh:
                    fz.fixed.append(fh.read())
            fz.run(target, int(seed))
            print(f"{args.replay}: no failure")
            return 0
        if args.budget is None and args.inputs is None:
            args.inputs = 100_000
        targets = args.only or list(WEIGHTS)
        weights = [WEIGHTS[t] for t in targets]
        seed0 = args.seed if args.seed is not None else random.SystemRandom().getrandbits(40)
        picker = random.Random(seed0)
        counts: Counter = Counter()
        failures: list[str] = []
        start = time.monotonic()
        last = start
        i = 0
        while True:
            if args.inputs is not None and i >= args.inputs:
                break
            if args.budget is not None and time.monotonic() - start >= args.budget:
                break
            target = picker.choices(targets, weights)[0]
            seed = seed0 + i
            i += 1
            t0 = time.monotonic()
            try:
                fz.run(target, seed)
                problem = None
            except PropertyBroken as exc:
                problem = f"property: {exc}"
            except RecursionError:
                problem = "RecursionError"
            except Exception as exc:  # noqa: BLE001 - that is what we are looking for
                problem = f"{type(exc).__name__}: {exc}"[:300]
            took = time.monotonic() - t0
            if problem is None and took > args.slow:
                problem = f"slow: {took:.1f}s"
            counts[target] += 1
            if problem:
                os.makedirs(args.out, exist_ok=True)
                saved = []
                for n, data in enumerate(fz.consumed):
                    saved.append(os.path.join(args.out, f"{target}-{seed}.{n}.bin"))
                    with open(saved[-1], "wb") as fh:
                        fh.write(data)
                inputs = "".join(f" --input {p}" for p in saved)
                failures.append(f"{target}:{seed}: {problem}\n    reproduce: python benchmarks/fuzz.py "
                                f"--replay {target}:{seed}{inputs}")
                print("FAIL " + failures[-1], flush=True)
            if time.monotonic() - last > 30:
                last = time.monotonic()
                print(f"... {i} inputs, {len(failures)} failures, {last - start:.0f}s", flush=True)
        elapsed = time.monotonic() - start
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"fuzzed {i} inputs in {elapsed:.0f}s ({i / max(elapsed, 1e-9):.0f}/s), first seed {seed0}")
    print("  " + ", ".join(f"{t} {counts[t]}" for t in targets))
    print(f"{len(failures)} failure(s)")
    for f in failures[:50]:
        print("  " + f)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
