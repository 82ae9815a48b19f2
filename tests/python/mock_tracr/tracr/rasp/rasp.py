"""A small stand-in for Tracr's `tracr.rasp.rasp`, enough to run what `itracr fmt --tracr`
writes: the same class names, encodings, `.named()`, and an evaluator with Tracr's semantics
(None propagates through Map and SequenceMap; an empty selection gives the default; a
categorical Aggregate needs its selected values to agree; a numerical one takes their mean).
It lets the tests execute the generated Python without Tracr installed."""
import enum


class Comparison(enum.Enum):
    EQ = "EQ"
    LT = "LT"
    LEQ = "LEQ"
    GT = "GT"
    GEQ = "GEQ"
    NEQ = "NEQ"
    TRUE = "TRUE"
    FALSE = "FALSE"

    def __call__(self, key, query):
        if key is None or query is None:
            raise ValueError("key or query is None")
        return {
            "EQ": lambda: key == query, "LT": lambda: key < query, "LEQ": lambda: key <= query,
            "GT": lambda: key > query, "GEQ": lambda: key >= query, "NEQ": lambda: key != query,
            "TRUE": lambda: True, "FALSE": lambda: False,
        }[self.value]()


class RASPExpr:
    encoding = "categorical"
    label = None

    def named(self, name):
        self.label = name
        return self


class _Tokens(RASPExpr):
    pass


class _Indices(RASPExpr):
    pass


tokens = _Tokens()
indices = _Indices()


class Map(RASPExpr):
    def __init__(self, f, inner, simplify=True):
        self.f, self.inner = f, inner


class SequenceMap(RASPExpr):
    def __init__(self, f, fst, snd):
        self.f, self.fst, self.snd = f, fst, snd


class LinearSequenceMap(SequenceMap):
    def __init__(self, fst, snd, a, b):
        super().__init__(lambda x, y: a * x + b * y, fst, snd)


class Full(RASPExpr):
    def __init__(self, value):
        self.value = value


class Select(RASPExpr):
    def __init__(self, keys, queries, predicate):
        self.keys, self.queries, self.predicate = keys, queries, predicate


class Aggregate(RASPExpr):
    def __init__(self, selector, sop, default=None):
        self.selector, self.sop, self.default = selector, sop, default


class SelectorWidth(RASPExpr):
    def __init__(self, selector):
        self.selector = selector


class SelectorAnd(RASPExpr):
    def __init__(self, a, b):
        self.a, self.b = a, b


class SelectorOr(SelectorAnd):
    pass


class SelectorNot(RASPExpr):
    def __init__(self, a):
        self.a = a


def numerical(e):
    e.encoding = "numerical"
    return e


def categorical(e):
    e.encoding = "categorical"
    return e


def evaluate(e, xs):
    n = len(xs)
    if isinstance(e, _Tokens):
        return list(xs)
    if isinstance(e, _Indices):
        return list(range(n))
    if isinstance(e, Map):
        return [None if x is None else e.f(x) for x in evaluate(e.inner, xs)]
    if isinstance(e, SequenceMap):
        return [None if x is None or y is None else e.f(x, y)
                for x, y in zip(evaluate(e.fst, xs), evaluate(e.snd, xs))]
    if isinstance(e, Full):
        return [e.value] * n
    if isinstance(e, Select):  # matrix[q][k]
        ks, qs = evaluate(e.keys, xs), evaluate(e.queries, xs)
        return [[e.predicate(k, q) for k in ks] for q in qs]
    if isinstance(e, SelectorOr):
        a, b = evaluate(e.a, xs), evaluate(e.b, xs)
        return [[x or y for x, y in zip(r, s)] for r, s in zip(a, b)]
    if isinstance(e, SelectorAnd):
        a, b = evaluate(e.a, xs), evaluate(e.b, xs)
        return [[x and y for x, y in zip(r, s)] for r, s in zip(a, b)]
    if isinstance(e, SelectorNot):
        return [[not x for x in r] for r in evaluate(e.a, xs)]
    if isinstance(e, SelectorWidth):
        return [sum(r) for r in evaluate(e.selector, xs)]
    if isinstance(e, Aggregate):
        m, vs = evaluate(e.selector, xs), evaluate(e.sop, xs)
        out = []
        for row in m:
            sel = [v for v, s in zip(vs, row) if s]
            if not sel:
                out.append(e.default)
            elif e.encoding == "numerical":
                out.append(sum(sel) / len(sel))
            elif all(v == sel[0] for v in sel):
                out.append(sel[0])
            else:
                raise ValueError("categorical Aggregate of different values")
        return out
    raise TypeError(f"unknown expression {e!r}")
