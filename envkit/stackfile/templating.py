"""Jinja2 for string values: sandboxed, strict, native types for a lone ``{{ expr }}``.

Used by ``envkit.stackfile.render``; see its docstring for the contract. jinja2 is imported on first
use, so importing envkit stays fast. Errors become located Diagnostics (never a
traceback): ``undefined-variable``, ``template-syntax``, ``template-error``, and
``template-too-expensive`` for a template over its time or size budget
(:mod:`envkit.stackfile.templatebudget`).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from envkit.errors import Diagnostic, DocPath, Origin, redact
from envkit.hints import did_you_mean
from envkit.stackfile import templatebudget as budget

if TYPE_CHECKING:
    from jinja2 import nodes
    from jinja2.sandbox import SandboxedEnvironment

__all__ = ["Templater"]

OriginOf = Callable[[DocPath], Origin | None]

_MARKERS = ("{{", "{%", "{#")
_LONE_EXPRESSION = re.compile(r"\s*\{\{(?P<expr>.*)\}\}\s*", re.DOTALL)


class _Tracked(dict[str, Any]):
    """A context mapping that records which keys templates read (for secret tainting)."""

    __slots__ = ("read",)

    def __init__(self, data: dict[str, Any]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)


class _Missing(Exception):
    """Raised by the Undefined type instead of jinja's UndefinedError, with what was missing."""

    def __init__(self, message: str, *, owner: Any, name: str | None) -> None:
        super().__init__(message)
        self.owner = owner
        self.name = name


@functools.cache
def _environment() -> SandboxedEnvironment:
    import operator

    from jinja2 import StrictUndefined, UndefinedError
    from jinja2.sandbox import ImmutableSandboxedEnvironment
    from jinja2.utils import missing

    class Undefined(StrictUndefined):
        __slots__ = ()

        def __init__(
            self,
            hint: str | None = None,
            obj: Any = missing,
            name: str | None = None,
            exc: Any = UndefinedError,
        ) -> None:
            if exc is UndefinedError:  # say what was missing, not just a message
                exc = functools.partial(_Missing, owner=obj, name=name)
            super().__init__(hint, obj, name, exc)

    operators = {"**": operator.pow, "*": operator.mul, "+": operator.add, "%": operator.mod}

    class Sandbox(ImmutableSandboxedEnvironment):  # immutable: no list.extend doubling
        intercepted_binops = frozenset(operators)

        def call_binop(self, context: Any, operator_: str, left: Any, right: Any) -> Any:
            if operator_ in operators:
                budget.check_binop(operator_, left, right)
                return operators[operator_](left, right)
            return super().call_binop(context, operator_, left, right)

        def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:
            budget.step()
            budget.check_call(__obj, args, kwargs)
            return budget.container(super().call(__context, __obj, *args, **kwargs))

    sandbox = Sandbox(undefined=Undefined, autoescape=False, keep_trailing_newline=True)
    sandbox.concat = budget.checked_join  # type: ignore[method-assign]
    sandbox.globals["range"] = budget.safe_range
    del sandbox.globals["lipsum"]  # lipsum(10**9): a loop no budget sees
    sandbox.filters.update(budget.checked_filters(sandbox.filters))
    return sandbox


def _bounded(tree: nodes.Template) -> nodes.Template:
    """``tree`` with every ``{% for %}`` iterating through :func:`templatebudget.loop`,
    every ``~`` going through :func:`templatebudget.concat` and every list, tuple and dict
    literal through :func:`templatebudget.container` (steps and sizes counted: ``[x, x]``
    in a loop would otherwise build a tree of 2**n shared leaves for free)."""
    from jinja2 import nodes
    from jinja2.visitor import NodeTransformer

    def call(name: str, args: list[nodes.Expr]) -> nodes.Call:
        return nodes.Call(
            nodes.ImportedName(f"envkit.stackfile.templatebudget.{name}"), args, [], None, None
        )

    class Bound(NodeTransformer):
        def visit_For(self, node: nodes.For) -> nodes.Node:
            self.generic_visit(node)
            node.iter = call("loop", [cast("nodes.Expr", node.iter)])
            return node

        def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
            self.generic_visit(node)
            return call("concat", [n for n in node.nodes if isinstance(n, nodes.Expr)])

        def visit_List(self, node: nodes.List) -> nodes.Node:
            self.generic_visit(node)
            return call("container", [node])

        def visit_Dict(self, node: nodes.Dict) -> nodes.Node:
            self.generic_visit(node)
            return call("container", [node])

        def visit_Tuple(self, node: nodes.Tuple) -> nodes.Node:
            self.generic_visit(node)
            return call("container", [node]) if node.ctx == "load" else node

    bounded: nodes.Template = Bound().visit(tree)
    return bounded


Compiled = tuple[Callable[[dict[str, Any]], Any], frozenset[str]]


def _expression(expr: str) -> Callable[[dict[str, Any]], Any]:
    """Jinja's ``compile_expression`` (native result), with the tree bounded like a
    template's."""
    from jinja2 import nodes
    from jinja2.environment import TemplateExpression
    from jinja2.parser import Parser

    jinja = _environment()
    parser = Parser(jinja, expr, state="variable")
    node = parser.parse_expression()
    node.set_environment(jinja)
    body = [nodes.Assign(nodes.Name("result", "store"), node, lineno=1)]
    template = jinja.from_string(_bounded(nodes.Template(body, lineno=1)))
    return TemplateExpression(template, undefined_to_none=False)


@functools.lru_cache(maxsize=8192)
def _compile(text: str) -> Compiled | Exception:
    """Compile once per distinct string (validate renders every environment with the same
    strings): a lone ``{{ expr }}`` as an expression (native type), else a template. Also
    returns the top-level names the template reads, for secret tainting."""
    from jinja2 import TemplateSyntaxError, meta

    jinja = _environment()
    try:
        tree = jinja.parse(text)
        names = frozenset(meta.find_undeclared_variables(tree))
        lone = _LONE_EXPRESSION.fullmatch(text)
        expr = lone.group("expr") if lone else None
        if expr is not None and not any(m in expr for m in (*_MARKERS, "}}", "#}", "%}")):
            return _expression(expr), names
        template = jinja.from_string(_bounded(tree))

        def render(context: dict[str, Any]) -> str:
            out: list[str] = []
            size = 0
            for chunk in template.generate(context):
                size += len(chunk)
                if size > budget.MAX_SIZE:
                    raise budget.TooExpensive(
                        f"its output would be longer than {budget.MAX_SIZE:,} characters"
                    )
                out.append(chunk)
            return "".join(out)

        return render, names
    except TemplateSyntaxError as exc:
        return exc
    except (ValueError, RecursionError) as exc:  # a 5000-digit literal; deep nesting
        return exc


class Templater:
    """Renders every templated string of a tree against one context, collecting errors."""

    def __init__(
        self,
        variables: dict[str, Any],
        *,
        env: dict[str, str],
        reserved: dict[str, Any],
        secret_vars: set[str],
        secret_env: set[str],
        sensitive: set[str],
        environment: str,
    ) -> None:
        self._vars = _Tracked(variables)
        self._env = _Tracked(env)
        self._context: dict[str, Any] = {**variables, **reserved}
        self._context["vars"] = self._vars
        self._context["env"] = self._env
        self._secret_vars = secret_vars
        self._secret_env = secret_env
        self._sensitive = sensitive
        self._environment = environment
        self.diagnostics: list[Diagnostic] = []
        self.tainted: set[str] = set()  # rendered values derived from secrets
        self.env_used: set[str] = set()
        self._budget = budget.Budget()  # shared by every template of this render

    def walk(
        self,
        value: Any,
        path: DocPath,
        origin_of: OriginOf,
        *,
        verbatim: Callable[[DocPath], bool] | None = None,
    ) -> Any:
        """A copy of ``value`` with every templated string rendered; same structure.
        Strings at paths where ``verbatim(path)`` is true are kept as they are."""
        if isinstance(value, str):
            if "{" in value and any(m in value for m in _MARKERS):
                if verbatim is not None and verbatim(path):
                    return value
                return self._render(value, path, origin_of)
            return value
        if isinstance(value, dict):
            return {
                k: self.walk(v, (*path, k), origin_of, verbatim=verbatim) for k, v in value.items()
            }
        if isinstance(value, list):
            return [
                self.walk(v, (*path, i), origin_of, verbatim=verbatim) for i, v in enumerate(value)
            ]
        return value

    def _render(self, text: str, path: DocPath, origin_of: OriginOf) -> Any:
        from jinja2 import TemplateSyntaxError
        from jinja2.runtime import Undefined

        compiled = _compile(text)
        if isinstance(compiled, TemplateSyntaxError):
            where = f" (line {compiled.lineno} of the template)" if "\n" in text.strip() else ""
            message = f"{self._quote(text)}: {compiled.message}{where}"
            self._fail("template-syntax", message, path, origin_of)
            return text
        if isinstance(compiled, Exception):
            what = "nested too deeply" if isinstance(compiled, RecursionError) else compiled
            self._fail("template-error", f"{self._quote(text)}: {what}", path, origin_of)
            return text
        call, names = compiled
        if self._budget.exhausted:  # reported once, at the template that spent it
            return text
        context = self._context
        self._vars.read.clear()
        self._env.read.clear()
        active = budget.ACTIVE.set(self._budget)
        try:
            self._budget.start()
            value = call(context)
            if isinstance(value, Undefined):
                value._fail_with_undefined_error()
            if isinstance(value, str) and len(value) > budget.MAX_SIZE:
                raise budget.TooExpensive(
                    f"its value is longer than {budget.MAX_SIZE:,} characters"
                )
        except _Missing as exc:
            self._undefined(exc, text, path, origin_of)
            return text
        except budget.TooExpensive as exc:
            self._fail(
                "template-too-expensive",
                f"{self._quote(text)}: {exc}",
                path,
                origin_of,
                "templates compute short values; loops, ranges and sizes are bounded "
                f"(range() {budget.MAX_RANGE:,} items, {budget.MAX_STEPS:,} steps, "
                f"{budget.MAX_SECONDS:g}s, {budget.MAX_SIZE:,} characters)",
            )
            return text
        except Exception as exc:
            message = redact(str(exc), self._sensitive) or type(exc).__name__
            self._fail("template-error", f"{self._quote(text)}: {message}", path, origin_of)
            return text
        finally:
            self._budget.stop()
            budget.ACTIVE.reset(active)
            self.env_used |= self._env.read
        if not (value is None or isinstance(value, str | int | float | bool)):
            kind = type(value).__name__
            self._fail(
                "template-error",
                f"{self._quote(text)} gives a {kind}; a value can only become a string, "
                "number, boolean or null",
                path,
                origin_of,
                "to embed it as text, add text around it or use '| string'",
            )
            return text
        if isinstance(value, str):
            value = str(value)  # a str subclass (Markup) becomes a plain str
        if self._derived_from_secret(names) and value is not None and not isinstance(value, bool):
            self.tainted.add(str(value))
        elif isinstance(value, str) and any(s in value for s in self._sensitive if s):
            self.tainted.add(value)
        return value

    def _derived_from_secret(self, names: frozenset[str]) -> bool:
        return (
            bool(names & self._secret_vars)
            or bool(self._vars.read & self._secret_vars)
            or bool(self._env.read & self._secret_env)
        )

    def _undefined(self, exc: _Missing, text: str, path: DocPath, origin_of: OriginOf) -> None:
        from jinja2.utils import missing

        name = exc.name or "?"
        quoted = self._quote(text)
        if exc.owner is missing or exc.owner is self._vars:
            defined = sorted(self._vars)
            prefix = "vars." if exc.owner is self._vars else ""
            hints = [
                did_you_mean(name, defined, prefix=prefix),
                f"defined variables: {_listing(defined)}"
                if defined
                else "no variables are defined",
            ]
            message = f"undefined variable '{prefix}{name}' in {quoted}"
        elif exc.owner is self._env:
            hints = [
                did_you_mean(name, sorted(self._env), prefix="env."),
                f"set {name} in the process environment or in an env_file of environment "
                f"'{self._environment}', or use {{{{ env.{name} | default('') }}}}",
            ]
            message = f"environment variable '{name}' is not set (used in {quoted})"
        else:
            owner = type(exc.owner).__name__
            hints = [f"check the attribute or key name; the {owner} has no '{name}'"]
            message = f"undefined attribute '{name}' in {quoted}"
        self._fail("undefined-variable", message, path, origin_of,
                   " ".join(h for h in hints if h))  # fmt: skip

    def _quote(self, text: str) -> str:
        shown = text if len(text) <= 80 else text[:77] + "..."
        return "'" + redact(shown, self._sensitive).replace("\n", "\\n") + "'"

    def _fail(
        self, code: str, message: str, path: DocPath, origin_of: OriginOf, hint: str | None = None
    ) -> None:
        self.diagnostics.append(Diagnostic(code, message, path, origin_of(path), hint))


def _listing(names: list[str], limit: int = 20) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f", ... ({len(names) - limit} more)" if len(names) > limit else "")
