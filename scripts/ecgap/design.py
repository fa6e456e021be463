"""The study design: groups, sessions and change periods, conditions and first-level
contrasts, ratings and per-session scores, group contrasts and the configured analyses.

:class:`Design` is built once from the validated config (:meth:`Design.from_config`);
rules, scripts and figures ask it rather than naming the study's labels themselves.

Only the standard library here: the Snakefile imports this module at every parse, and
the light rule jobs (change maps, tables) import it too, so it must not pull in nilearn,
matplotlib or statsmodels (about 2-4 s of imports each time).
"""

from __future__ import annotations

import ast
from dataclasses import asdict, dataclass, replace
from itertools import combinations
from typing import Any, Mapping, Sequence

#: The maps of each group-level contrast (the stat- entity of their names): nilearn's
#: effect (c'beta) and its variance, as NiMARE's image-based meta-analyses read them;
#: permutation t, parametric z, voxel/size/mass FWE -log10 p; t inside FWE clusters.
GROUP_STATS = ("effect", "variance", "t", "z", "logpFWEvoxel", "logpFWEsize", "logpFWEmass",
               "tFWEcluster")

#: The maps written per first-level contrast (BIDS ``stat-`` entity).
FIRST_LEVEL_STATS = ("effect", "variance", "z")

#: Brain-behaviour slope contrasts: name -> sign of the score's coefficient.
SLOPE_CONTRASTS = {"positiveSlope": 1.0, "negativeSlope": -1.0}

def first_level_output_name(contrast: str, stat: str) -> str:
    """Snakemake output name of one contrast's map, e.g. ``HE_effect``."""
    return f"{contrast}_{stat}"


def parametric_name(rating: str) -> str:
    """``positive_affect`` -> ``PositiveAffect`` (a regressor/contrast-safe name)."""
    return "".join(part.capitalize() for part in rating.split("_"))


# --------------------------------------------------------------------------- design model

#: The maps of a t group contrast (= GROUP_STATS) and of an F group contrast.
T_STATS = GROUP_STATS
F_STATS = ("F", "z", "logpFWEvoxel", "logpFWEsize", "logpFWEmass", "FFWEcluster")
#: Name of the omnibus F contrast of three or more groups.
OMNIBUS = "groupsF"


class DesignError(ValueError):
    """A config the design cannot mean; ``key`` is the dotted config key to fix."""

    def __init__(self, key: str, message: str) -> None:
        super().__init__(f"config key {key}: {message}")
        self.key, self.message = key, message


@dataclass(frozen=True)
class Group:
    """A group: ``name`` in model columns and contrast names, ``label`` in participants.tsv."""

    name: str
    label: str
    control: bool = False
    description: str = ""


@dataclass(frozen=True)
class Period:
    """A change: the effect at session ``second`` minus the effect at session ``first``."""

    name: str
    first: str
    second: str
    description: str = ""

    def label(self) -> str:
        """'delta1 (post1 - pre)': how the behaviour tables name the change."""
        return f"{self.name} ({self.second} - {self.first})"

    def words(self) -> str:
        """'empathy-related (delta1)': how figures and the report name the change."""
        return f"{self.description} ({self.name})" if self.description else self.name


@dataclass(frozen=True)
class Condition:
    """A modelled trial type: ``name`` is its regressor, ``trial_type`` its events value."""

    name: str
    trial_type: str
    description: str = ""


@dataclass(frozen=True)
class Contrast:
    """A first-level contrast: a nilearn expression and its weight per condition."""

    name: str
    expression: str
    weights: tuple[tuple[str, float], ...]


@dataclass(frozen=True)
class Rating:
    """A rating scale: its name and the events column holding it (on condition rows)."""

    name: str
    column: str
    description: str = ""

    def title(self) -> str:
        """Its description, else its name in words ('Positive affect')."""
        return self.description or self.name.replace("_", " ").capitalize()


@dataclass(frozen=True)
class GroupContrast:
    """Weights over the design's groups: one row (a one-sided t) or several (an F)."""

    name: str
    rows: tuple[tuple[float, ...], ...]
    label: str

    @property
    def kind(self) -> str:
        return "t" if len(self.rows) == 1 else "F"

    @property
    def stats(self) -> tuple[str, ...]:
        return T_STATS if self.kind == "t" else F_STATS


@dataclass(frozen=True)
class Score:
    """A brain-behaviour score: a rating's change over a period (averaged over the
    conditions ``condition``, 'all' for every one) or a participants.tsv column."""

    measure: str
    period: str | None = None
    condition: str = "all"


@dataclass(frozen=True)
class Analysis:
    """A group analysis or, with a ``score``, a brain-behaviour regression."""

    name: str
    period: str
    contrast: str
    score: Score | None = None
    cluster_forming_p: float | None = None


@dataclass(frozen=True)
class Conjunction:
    name: str
    analyses: tuple[str, ...]
    group_contrast: str


def contrast_name(first: str, second: str) -> str:
    """('affect', 'memory') -> 'affectGtMemory': the t contrast first > second."""
    return f"{first}Gt{second[:1].upper()}{second[1:]}"


def linear_weights(expression: str, names: Sequence[str]) -> dict[str, float]:
    """The weight of each of ``names`` (0 if absent) in a linear contrast expression.

    Accepts what nilearn's contrast expressions write for linear contrasts: numbers,
    names, unary minus, ``+``, ``-``, ``number * term``, ``term * number`` and
    ``term / number``. Raises ValueError for anything else (an unknown name, a product
    of two names).
    """
    weights = dict.fromkeys(names, 0.0)

    def visit(node: ast.AST, factor: float) -> None:
        if isinstance(node, ast.Name):
            if node.id not in weights:
                raise ValueError(f"{node.id!r} is not a condition ({', '.join(names)})")
            weights[node.id] += factor
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            visit(node.operand, -factor if isinstance(node.op, ast.USub) else factor)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Add, ast.Sub)):
            visit(node.left, factor)
            visit(node.right, -factor if isinstance(node.op, ast.Sub) else factor)
        elif isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Div)):
            number = _number(node.right)
            if isinstance(node.op, ast.Div):
                if not number:
                    raise ValueError("a term may only be divided by a non-zero number")
                visit(node.left, factor / number)
            elif number is not None:
                visit(node.left, factor * number)
            elif (left := _number(node.left)) is not None:
                visit(node.right, factor * left)
            else:
                raise ValueError("a product of two conditions is not a linear contrast")
        else:
            raise ValueError(f"{ast.unparse(node)!r} is not a linear term")

    try:
        tree = ast.parse(expression, mode="eval")
    except SyntaxError as err:
        raise ValueError(f"cannot read {expression!r}") from err
    visit(tree.body, 1.0)
    return weights


def _number(node: ast.AST) -> float | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _number(node.operand)
        return None if inner is None else -inner
    return None


@dataclass(frozen=True)
class Design:
    """The study design and the configured analyses (see the module docstring)."""

    groups: tuple[Group, ...] = ()
    sessions: tuple[str, ...] = ()
    periods: tuple[Period, ...] = ()
    steps: tuple[Period, ...] = ()
    conditions: tuple[Condition, ...] = ()
    nuisance: tuple[Condition, ...] = ()
    contrasts: tuple[Contrast, ...] = ()
    ratings: tuple[Rating, ...] = ()
    score_task: str = ""
    scores: tuple[str, ...] = ()
    group_contrasts: tuple[GroupContrast, ...] = ()
    analyses: tuple[Analysis, ...] = ()
    brain_behaviour: tuple[Analysis, ...] = ()
    brain_behaviour_group: str = ""
    conjunctions: tuple[Conjunction, ...] = ()

    # ------------------------------------------------------------------ building
    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> "Design":
        """The design of a schema-validated config (its design, second_level and
        brain_behaviour sections); raises DesignError naming the first bad key."""
        return cls.of_study(config["design"])._with_analyses(config)

    @classmethod
    def of_study(cls, d: Mapping[str, Any]) -> "Design":
        """The study alone (no analyses), from a validated config's design section."""
        groups = tuple(Group(g["name"], g.get("label") or g["name"], g["control"],
                             g["description"]) for g in d["groups"])
        _unique("design.groups", [g.name for g in groups])
        _unique("design.groups (label)", [g.label for g in groups])
        if sum(g.control for g in groups) != 1:
            raise DesignError("design.groups", "exactly one group needs control: true")
        sessions = tuple(d["sessions"])
        steps, periods = _periods(sessions, d["change_periods"])
        conditions = tuple(_condition(c) for c in d["conditions"])
        nuisance = tuple(_condition(c) for c in d["nuisance_conditions"])
        _unique("design.conditions", [c.name for c in conditions + nuisance])
        _unique("design.conditions (trial_type)", [c.trial_type for c in conditions + nuisance])
        contrasts = _contrasts(d["contrasts"], [c.name for c in conditions])
        ratings = tuple(Rating(r["name"], r.get("column") or r["name"], r["description"])
                        for r in d["ratings"])
        _unique("design.ratings", [r.name for r in ratings])
        return cls(groups=groups, sessions=sessions, periods=periods, steps=steps,
                   conditions=conditions, nuisance=nuisance, contrasts=contrasts,
                   ratings=ratings, score_task=d["scores"]["task"],
                   scores=tuple(d["scores"]["columns"]),
                   group_contrasts=_group_contrasts(d["group_contrasts"], groups))

    def _with_analyses(self, config: Mapping[str, Any]) -> "Design":
        group = config["second_level"]
        analyses = tuple(self._analysis(a, "second_level.analyses") for a in group["analyses"])
        _unique("second_level.analyses", [a.name for a in analyses])
        bb = config["brain_behaviour"]
        regressions = tuple(self._analysis(a, "brain_behaviour.analyses")
                            for a in bb["analyses"])
        _unique("brain_behaviour.analyses", [a.name for a in regressions])
        bb_group = bb["group"] or self.trained[0].name
        if bb_group not in self.group_names:
            raise DesignError("brain_behaviour.group",
                              f"{bb_group!r} is not a design group ({', '.join(self.group_names)})")
        conjunctions = tuple(self._conjunction(c, [a.name for a in analyses])
                             for c in group["conjunctions"])
        return replace(self, analyses=analyses, brain_behaviour=regressions,
                        brain_behaviour_group=bb_group, conjunctions=conjunctions)

    def _analysis(self, entry: Mapping[str, Any], section: str) -> Analysis:
        key = f"{section} ({entry['name']})"
        self._check_period(entry["delta"], f"{key}.delta")
        if entry["contrast"] not in self.contrast_names:
            raise DesignError(f"{key}.contrast", f"{entry['contrast']!r} is not a first-level "
                              f"contrast of the design ({', '.join(self.contrast_names)})")
        score = entry.get("score")
        return Analysis(entry["name"], entry["delta"], entry["contrast"],
                        score and self._score(score, f"{key}.score"),
                        entry.get("cluster_forming_p"))

    def _score(self, score: Mapping[str, Any], key: str) -> Score:
        if not self.is_rating(score["measure"]):
            if "delta" in score:  # a rating change, but of no rating the design has
                raise DesignError(f"{key}.measure", f"{score['measure']!r} is not a design "
                                  f"rating ({', '.join(self.rating_names) or 'none'}); a "
                                  "participants column takes no delta")
            return Score(score["measure"])
        if "delta" not in score:
            raise DesignError(key, "a rating score needs its change period (delta: "
                              f"{' or '.join(self.period_names)})")
        self._check_period(score["delta"], f"{key}.delta")
        condition = score.get("video_type", "all")
        if condition != "all" and condition not in self.condition_names:
            raise DesignError(f"{key}.video_type", f"{condition!r} is not 'all' or a "
                              f"condition ({', '.join(self.condition_names)})")
        return Score(score["measure"], score["delta"], condition)

    def _conjunction(self, entry: Mapping[str, Any], analyses: Sequence[str]) -> Conjunction:
        key = f"second_level.conjunctions ({entry['name']})"
        unknown = [a for a in entry["analyses"] if a not in analyses]
        if unknown:
            raise DesignError(key, f"analyses {unknown} are not in second_level.analyses "
                              f"({', '.join(analyses)})")
        contrast = entry.get("contrast") or self.primary_contrast
        t_contrasts = [c.name for c in self.group_contrasts if c.kind == "t"]
        if contrast not in t_contrasts:
            raise DesignError(f"{key}.contrast", f"{contrast!r} is not a t group contrast "
                              f"({', '.join(t_contrasts)})")
        return Conjunction(entry["name"], tuple(entry["analyses"]), contrast)

    def _check_period(self, name: str, key: str) -> None:
        if name not in self.period_names:
            raise DesignError(key, f"{name!r} is not a change period of the design "
                              f"({', '.join(self.period_names)})")

    def as_dict(self, *parts: str) -> dict[str, Any]:
        """JSON-safe fields for Snakemake params: only ``parts`` (field names) when given,
        so that a rule reruns only when what it uses changes."""
        names = parts or tuple(f.name for f in self.__dataclass_fields__.values())
        return {name: _plain(getattr(self, name)) for name in names}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Design":
        """The inverse of :meth:`as_dict`; parts not given stay empty."""
        kinds = {"groups": Group, "periods": Period, "steps": Period, "conditions": Condition,
                 "nuisance": Condition, "ratings": Rating, "conjunctions": Conjunction}
        fields: dict[str, Any] = {}
        for name, value in data.items():
            if name in kinds:
                fields[name] = tuple(_build(kinds[name], v) for v in value)
            elif name == "contrasts":
                fields[name] = tuple(Contrast(c["name"], c["expression"],
                                              tuple((k, float(w)) for k, w in c["weights"]))
                                     for c in value)
            elif name == "group_contrasts":
                fields[name] = tuple(GroupContrast(c["name"], tuple(map(tuple, c["rows"])),
                                                   c["label"]) for c in value)
            elif name in ("analyses", "brain_behaviour"):
                fields[name] = tuple(Analysis(**{**a, "score": a["score"] and Score(**a["score"])})
                                     for a in value)
            elif name in ("sessions", "scores"):
                fields[name] = tuple(value)
            else:
                fields[name] = value
        return cls(**fields)

    def summary(self) -> str:
        """The design in one paragraph (the report's 'The study')."""
        def words(name: str, description: str) -> str:
            return f"{name} ({description})" if description else name

        groups = "; ".join(words(g.name, g.description) + (", the control group"
                                                            if g.control else "")
                           for g in self.groups)
        periods = "; ".join(f"{p.name} = {p.second} - {p.first}"
                            + (f" ({p.description})" if p.description else "")
                            for p in self.periods)
        conditions = ", ".join(words(c.name, c.description) for c in self.conditions)
        ratings = (f", rating {', '.join(self.rating_names)} after each"
                   if self.ratings else "")
        return (f"{len(self.groups)} groups: {groups}. Scanned in {len(self.sessions)} "
                f"sessions ({', '.join(self.sessions)}) during the conditions {conditions}"
                f"{ratings}. Change periods: {periods}.")

    # ------------------------------------------------------------------ groups
    @property
    def group_names(self) -> list[str]:
        return [g.name for g in self.groups]

    @property
    def control(self) -> Group:
        return next(g for g in self.groups if g.control)

    @property
    def trained(self) -> list[Group]:
        """The groups other than the control, in design order."""
        return [g for g in self.groups if not g.control]

    def labels(self) -> dict[str, str]:
        """Group name -> its label in participants.tsv."""
        return {g.name: g.label for g in self.groups}

    def pairs(self) -> list[tuple[str, str]]:
        """Every pair of groups, the first before the second in design order."""
        return list(combinations(self.group_names, 2))

    def group_contrast(self, name: str) -> GroupContrast:
        return _named(self.group_contrasts, name, "group contrast")

    def group_weights(self, name: str) -> dict[str, float]:
        """A t group contrast's weight per group name."""
        contrast = self.group_contrast(name)
        if contrast.kind != "t":
            raise ValueError(f"{name} is an F contrast; it has no single weight per group")
        return dict(zip(self.group_names, contrast.rows[0]))

    @property
    def primary_contrast(self) -> str:
        """The first trained group > the control (the default conjunction contrast and
        Figure 3A's), or the first t contrast of a configured list that lacks it."""
        name = contrast_name(self.trained[0].name, self.control.name)
        t_contrasts = [c.name for c in self.group_contrasts if c.kind == "t"]
        return name if name in t_contrasts or not t_contrasts else t_contrasts[0]

    # ------------------------------------------------------------------ periods
    @property
    def period_names(self) -> list[str]:
        return [p.name for p in self.periods]

    def period(self, name: str) -> Period:
        """An analysed period or a consecutive step, by name."""
        return _named(self.periods + self.steps, name, "change period")

    def period_sessions(self, name: str) -> list[str]:
        """The two sessions a period spans, earlier first."""
        period = self.period(name)
        return [period.first, period.second]

    # ------------------------------------------------------------------ conditions
    @property
    def condition_names(self) -> list[str]:
        return [c.name for c in self.conditions]

    @property
    def contrast_names(self) -> list[str]:
        return [c.name for c in self.contrasts]

    def modelled_trial_types(self) -> dict[str, str]:
        """Events trial_type -> GLM regressor: the conditions, then the nuisance ones."""
        return {c.trial_type: c.name for c in self.conditions + self.nuisance}

    def first_level_contrasts(self, parametric: bool) -> dict[str, str]:
        """Contrast name -> nilearn expression: the design's contrasts, then each condition
        against baseline that they lack (the ROI values read every condition's effect);
        with parametric modulation also one per condition and rating
        (``<condition>x<Rating>``)."""
        contrasts = {c.name: c.expression for c in self.contrasts}
        contrasts.update({c: c for c in self.condition_names if c not in contrasts})
        if parametric:
            for condition in self.conditions:
                for rating in self.ratings:
                    name = f"{condition.name}x{parametric_name(rating.name)}"
                    contrasts[name] = name
        return contrasts

    def contrast_weights(self, name: str) -> dict[str, float]:
        """Condition -> weight of a first-level contrast (every condition, in order)."""
        return dict(_named(self.contrasts, name, "first-level contrast").weights)

    # ------------------------------------------------------------------ ratings
    @property
    def rating_names(self) -> list[str]:
        return [r.name for r in self.ratings]

    def is_rating(self, measure: str) -> bool:
        return measure in self.rating_names

    def score_label(self, score: Score) -> str:
        """'empathy delta1 (all videos)' for a rating change, else the column's name."""
        if score.period is None:
            return score.measure
        return f"{score.measure} {score.period} ({score.condition} videos)"


def _unique(key: str, names: Sequence[str]) -> None:
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise DesignError(key, f"names must be unique; repeated: {', '.join(duplicated)}")


def _named(items: Sequence[Any], name: str, what: str) -> Any:
    for item in items:
        if item.name == name:
            return item
    raise KeyError(f"{name!r} is not a {what} of the design "
                   f"({', '.join(i.name for i in items)})")


def _condition(entry: Mapping[str, Any]) -> Condition:
    return Condition(entry["name"], entry.get("trial_type") or entry["name"],
                     entry["description"])


def _periods(sessions: Sequence[str], spec: Mapping[str, Any]
             ) -> tuple[tuple[Period, ...], tuple[Period, ...]]:
    """The consecutive steps and the analysed periods (the steps, or each later session
    against the first)."""
    n = len(sessions) - 1
    names = spec["names"]
    if names is not None and len(names) != n:
        raise DesignError("design.change_periods.names",
                          f"{len(names)} names for {n} change periods")
    baseline = spec["reference"] == "baseline"
    named = names or [f"delta{i}" for i in range(1, n + 1)]
    _unique("design.change_periods.names", named)
    words = spec["descriptions"]
    step_names = [f"step{i}" for i in range(1, n + 1)] if baseline else named
    steps = tuple(Period(step_names[i], sessions[i], sessions[i + 1],
                         words.get(step_names[i], "")) for i in range(n))
    if not baseline:
        return steps, steps
    periods = tuple(Period(named[i], sessions[0], sessions[i + 1], words.get(named[i], ""))
                    for i in range(n))
    return steps, periods


def _contrasts(entries: Sequence[Mapping[str, Any]] | None,
               conditions: Sequence[str]) -> tuple[Contrast, ...]:
    entries = entries if entries is not None else [{"name": c, "expression": c}
                                                   for c in conditions]
    _unique("design.contrasts", [e["name"] for e in entries])
    contrasts = []
    for entry in entries:
        key = f"design.contrasts ({entry['name']}).expression"
        try:
            weights = linear_weights(entry["expression"], conditions)
        except ValueError as err:
            raise DesignError(key, str(err)) from err
        if entry["name"] in conditions and weights != {c: float(c == entry["name"])
                                                       for c in conditions}:
            raise DesignError(key, "a contrast named after a condition must be that "
                                   "condition alone")
        contrasts.append(Contrast(entry["name"], entry["expression"], tuple(weights.items())))
    return tuple(contrasts)


def _group_contrasts(entries: Sequence[Mapping[str, Any]] | None,
                     groups: Sequence[Group]) -> tuple[GroupContrast, ...]:
    """The configured t contrasts, or every pair both ways plus, for three or more
    groups, the omnibus F (every trained group against the control)."""
    names = [g.name for g in groups]
    if entries is not None:
        _unique("design.group_contrasts", [e["name"] for e in entries])
        for entry in entries:
            unknown = sorted(set(entry["weights"]) - set(names))
            if unknown:
                raise DesignError(f"design.group_contrasts ({entry['name']}).weights",
                                  f"{unknown} are not design groups ({', '.join(names)})")
            if not any(entry["weights"].values()):
                raise DesignError(f"design.group_contrasts ({entry['name']}).weights",
                                  "needs a non-zero weight")
        return tuple(GroupContrast(e["name"],
                                   (tuple(float(e["weights"].get(n, 0.0)) for n in names),),
                                   e["name"]) for e in entries)

    def unit(name: str) -> list[float]:
        return [1.0 if n == name else 0.0 for n in names]

    contrasts = []
    for a, b in combinations(names, 2):
        contrasts.append(GroupContrast(contrast_name(a, b), (_minus(unit(a), unit(b)),),
                                       f"{a} > {b}"))
        contrasts.append(GroupContrast(contrast_name(b, a), (_minus(unit(b), unit(a)),),
                                       f"{b} > {a}"))
    if len(groups) > 2:
        control = next(g.name for g in groups if g.control)
        rows = tuple(_minus(unit(g.name), unit(control)) for g in groups if not g.control)
        contrasts.append(GroupContrast(OMNIBUS, rows, "any group difference (F)"))
    return tuple(contrasts)


def _minus(a: Sequence[float], b: Sequence[float]) -> tuple[float, ...]:
    return tuple(x - y for x, y in zip(a, b))


def _plain(value: Any) -> Any:
    """Dataclasses, tuples and dicts as JSON-safe dicts and lists."""
    if hasattr(value, "__dataclass_fields__"):
        return {k: _plain(v) for k, v in asdict(value).items()}
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _build(kind: type, data: Mapping[str, Any]) -> Any:
    return kind(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()})
