"""The C++ source of a model's native adjoint kernel: `adjoint.cc` with its mechanisms filled in.

Per mechanism, four per-site functions are generated from jaxprs (`codegen.scalar_function`):
its current function and state update (as the forward kernel's, `dendrax.native.source`)
and the vector-Jacobian products of both, traced with `jax.vjp`, so that user-written
mechanisms get a native backward pass too; per ion whose reversal potential follows its
concentrations, the Nernst potential and its product. Operands are the forward kernel's
(`dendrax.native.operands`), the ion rows `source.ion_rows`.
"""

import jax
import numpy as np
from jax import lax
from jax.extend.core import Literal

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.native.codegen import scalar_function
from dendrax.native.source import (
    IonRows,
    check_supported,
    check_value_type,
    current_callable,
    filled_template,
    function_arguments,
    generated_once,
    ion_rows,
    nernst_callable,
    recorded_densities,
    site_inputs,
    summed_fluxes,
    update_callable,
)
from dendrax.static_spec import StaticSpec

_CALLS = ("pjit", "jit", "closed_call", "core_call")
"""Primitives that call a jaxpr: inlined when a vector-Jacobian product is replayed."""


def _vjp(fn, n_inputs: int, dtype, with_primal: bool = False):
    """(*inputs, *output cotangents) -> input cotangents of `fn` (after its outputs, if
    `with_primal`), as a function of scalars.

    The transposed jaxpr sums cotangents with `add_any`, which is re-emitted as `add`
    (the same operation on scalars) so that the code generator translates it.
    """

    def vjp(*values):
        outputs, pullback = jax.vjp(fn, *values[:n_inputs])
        cotangents = pullback(tuple(values[n_inputs:]))
        return (*outputs, *cotangents) if with_primal else cotangents

    n_outputs = len(jax.eval_shape(fn, *[jax.ShapeDtypeStruct((), dtype)] * n_inputs))
    closed = jax.make_jaxpr(vjp)(*[np.zeros((), dtype)] * (n_inputs + n_outputs))

    def replayed(*values):
        return tuple(_replay(closed.jaxpr, closed.consts, values))

    return replayed


def _replay(jaxpr, consts, values) -> list:
    """Evaluate `jaxpr` with `add_any` as `lax.add` and calls inlined."""
    env = {}

    def read(atom):
        return atom.val if isinstance(atom, Literal) else env[atom]

    for var, value in zip(jaxpr.constvars, consts, strict=True):
        env[var] = value
    for var, value in zip(jaxpr.invars, values, strict=True):
        env[var] = value
    for eqn in jaxpr.eqns:
        args = [read(atom) for atom in eqn.invars]
        if eqn.primitive.name == "add_any":
            outs = [lax.add(*args)]
        elif eqn.primitive.name in _CALLS:
            inner = eqn.params.get("jaxpr", eqn.params.get("call_jaxpr"))
            outs = _replay(getattr(inner, "jaxpr", inner), getattr(inner, "consts", ()), args)
        else:
            outs = eqn.primitive.bind(*args, **eqn.params)
            outs = outs if eqn.primitive.multiple_results else [outs]
        for var, out in zip(eqn.outvars, outs, strict=True):
            env[var] = out
    return [read(atom) for atom in jaxpr.outvars]


class _Sites:
    """C++ lines for one mechanism's sites: `count` of them at nodes `node[k]`, with site
    values `p` (row by row, its area scale last), states `s` and, in the backward pass,
    their cotangents `bp`, `bs` and the new states' `ls`; new states `ns` in the forward
    pass. Scratch rows: `scratch.v`, `.a`, `.b` and `g(r)`, row r of `scratch.g`."""

    def __init__(self, j: int, mechanism: Mechanism, spec: StaticSpec, rows: IonRows):
        self.j, self.mechanism, self.rows = j, mechanism, rows
        self.n_params = len(site_inputs(mechanism, spec))
        self.n_states = len(mechanism.states)
        _, self.current_inputs = function_arguments(mechanism, spec, with_currents=False)
        _, self.update_inputs = function_arguments(mechanism, spec, with_currents=True)
        self.fluxes = summed_fluxes(mechanism, spec)
        self.recorded = recorded_densities(mechanism, spec)

    @staticmethod
    def g(r: int) -> str:
        return f"scratch.g[{r} * scratch.stride + k]"

    def state(self, s: int, array: str = "s") -> str:
        return f"{array}[{s} * count + k]"

    def param(self, p: int, array: str = "p") -> str:
        return f"{array}[{p} * count + k]"

    def ion_names(self, with_currents: bool) -> tuple[str, ...]:
        """The per-node values the functions read after the site inputs: ion rows, then a
        junction's "v_peer" (the voltage at the site's peer node)."""
        names = self.update_inputs if with_currents else self.current_inputs
        return names[self.n_params :]

    def node_value(self, array: str, name: str) -> str:
        return f"{array}[{self.rows.row(name)} * n + node[k]]"

    def gathered(self, name: str, ion: str, v: str) -> str:
        """Where the value `name` of `ion_names` is: an ion row of `ion`, or for "v_peer"
        the voltage array `v` at the peer node (its cotangent goes to the same place in
        the cotangent arrays)."""
        return f"{v}[peer[k]]" if name == "v_peer" else self.node_value(ion, name)

    def block(self, pointers: tuple[str, ...], loops: list[list[str]]) -> list[str]:
        """The mechanism's block: its pointers, then loops over its sites (the second one,
        the computation, vectorises: contiguous operands, no dependences between sites)."""
        j = self.j
        declared = {
            "p": f"const T* p = params + model.param_begin[{j}];",
            "s": f"const T* s = states + model.state_begin[{j}];",
            "ns": f"T* ns = next_states + model.state_begin[{j}];",
            "bp": f"T* bp = bar_params + model.param_begin[{j}];",
            "bs": f"T* bs = bar_states + model.state_begin[{j}];",
            "ls": f"T* ls = lam_states + model.state_begin[{j}];",
            "rd": f"T* rd = density + model.density_begin[{j}];",
            "lrd": f"T* lrd = lam_density + model.density_begin[{j}];",
        }
        lines = [
            "{",
            f"  const int64_t count = model.site_count[{j}];",
            f"  const Index* node = model.site_node + model.site_begin[{j}];",
            f"  const Index* peer = model.site_peer + model.site_begin[{j}];",
            *(f"  {declared[name]}" for name in pointers),
        ]
        for number, loop in enumerate(loops):
            if loop:
                lines += ["  #pragma GCC ivdep"] if number == 1 else []
                lines += ["  for (int64_t k = 0; k < count; ++k) {"]
                lines += [f"    {line}" for line in loop] + ["  }"]
        return [*lines, "}"]

    def inputs(self, with_currents: bool) -> list[str]:
        ions = self.ion_names(with_currents)
        return [
            "scratch.v[k]",
            *(self.state(s) for s in range(self.n_states)),
            *(self.param(q) for q in range(self.n_params)),
            *(self.g(d) for d in range(len(ions))),
        ]

    def gather(self, v: str, ion: str, with_currents: bool) -> list[str]:
        ions = self.ion_names(with_currents)
        return [
            f"scratch.v[k] = {v}[node[k]];",
            *(f"{self.g(d)} = {self.gathered(x, ion, v)};" for d, x in enumerate(ions)),
        ]

    def accumulate(self, outs: list[str], ion_first: int) -> list[str]:
        """Input cotangents `outs` (of v, states, site inputs, ion rows) to scratch.a,
        bs, bp and the g rows from `ion_first` on."""
        n_states, n_params = self.n_states, self.n_params
        lines = [f"scratch.a[k] = {outs[0]};"]
        lines += [f"{self.state(s, 'bs')} += {outs[1 + s]};" for s in range(n_states)]
        lines += [f"{self.param(q, 'bp')} += {outs[1 + n_states + q]};" for q in range(n_params)]
        ions = outs[1 + n_states + n_params :]
        lines += [f"{self.g(ion_first + d)} = {o};" for d, o in enumerate(ions)]
        return lines

    def scatter(self, ion_names: tuple[str, ...], ion_first: int) -> list[str]:
        return [
            "lam_v[node[k]] += scratch.a[k];",
            *(
                f"{self.gathered(x, 'lam_ion', 'lam_v')} += {self.g(ion_first + d)};"
                for d, x in enumerate(ion_names)
            ),
        ]

    def evaluation(self) -> list[str]:
        j, scale = self.j, self.param(self.n_params)
        fluxes = [f"f{e}" for e in range(2 * len(self.fluxes))]
        recorded = [self.state(r, "rd") for r in range(len(self.recorded))]
        compute = [
            f"T {', '.join(['i', 'di', *fluxes])};",
            f"current{j}({', '.join([*self.inputs(False), 'i', 'di', *fluxes, *recorded])});",
            f"scratch.a[k] = i * {scale};",
            f"scratch.b[k] = di * {scale};",
            *(f"{self.g(len(self.ion_names(False)) + e)} = {f};" for e, f in enumerate(fluxes)),
        ]
        first = len(self.ion_names(False))
        scatter = ["current[node[k]] += scratch.a[k];", "slope[node[k]] += scratch.b[k];"]
        scatter += [
            f"{self.node_value('ion', row)} += {self.g(first + e)};"
            for e, row in enumerate(self._flux_rows())
        ]
        pointers = ("p", "s", "rd") if self.recorded else ("p", "s")
        return self.block(pointers, [self.gather("v", "ion", False), compute, scatter])

    def _flux_rows(self) -> list[str]:
        return [row for flux in self.fluxes for row in (flux, f"{flux}:slope")]

    def evaluation_vjp(self) -> list[str]:
        j, scale = self.j, self.param(self.n_params)
        ions = self.ion_names(False)
        n_inputs = 1 + self.n_states + self.n_params + len(ions)
        n_flux = 2 * len(self.fluxes)
        gather = self.gather("v", "ion_eval", False)
        gather += ["scratch.a[k] = lam_current[node[k]];", "scratch.b[k] = lam_slope[node[k]];"]
        gather += [
            f"{self.g(len(ions) + e)} = {self.node_value('lam_ion', row)};"
            for e, row in enumerate(self._flux_rows())
        ]
        n_recorded = len(self.recorded)
        primal = [
            "i",
            "di",
            *(f"f{e}" for e in range(n_flux)),
            *(f"d{r}" for r in range(n_recorded)),
        ]
        outs = [f"o{q}" for q in range(n_inputs)]
        lam_fluxes = [self.g(len(ions) + e) for e in range(n_flux)]
        lam_recorded = [f"ld{r}" for r in range(n_recorded)]
        compute = [
            "const T lam_i = scratch.a[k], lam_di = scratch.b[k];",
            *(f"const T ld{r} = {self.state(r, 'lrd')};" for r in range(n_recorded)),
            *(f"{self.state(r, 'lrd')} = T(0);" for r in range(n_recorded)),
            f"T {', '.join([*primal, *outs])};",
            f"current_vjp{j}({', '.join(self.inputs(False))}, lam_i * {scale}, "
            f"lam_di * {scale}, {', '.join([*lam_fluxes, *lam_recorded, *primal, *outs])});",
            f"{self.param(self.n_params, 'bp')} += lam_i * i + lam_di * di;",
            *self.accumulate(outs, len(ions) + n_flux),
        ]
        scatter = self.scatter(ions, len(ions) + n_flux)
        pointers = ("p", "s", "bp", "bs", *(("lrd",) if n_recorded else ()))
        return self.block(pointers, [gather, compute, scatter])

    def update(self) -> list[str]:
        j = self.j
        new = [self.state(s, "ns") for s in range(self.n_states)]
        compute = [f"update{j}({', '.join([*self.inputs(True), *new])});"]
        refresh = [
            f"{self.node_value('ion', x)} = {self.state(s, 'ns')};" for s, x in self.written()
        ]
        return self.block(("p", "s", "ns"), [self.gather("v", "ion", True), compute, refresh])

    def written(self) -> list[tuple[int, str]]:
        """(state index, row) of the concentrations this mechanism writes."""
        states = list(self.mechanism.states)
        return [(states.index(x), x) for x in self.mechanism.writes if x in self.rows.written]

    def update_vjp(self, ion: str) -> list[str]:
        """Reads the ion rows from `ion`; a writer first takes its rows' cotangents."""
        j, ions = self.j, self.ion_names(True)
        n_inputs = 1 + self.n_states + self.n_params + len(ions)
        refresh = []
        for s, x in self.written():
            refresh += [
                f"{self.state(s, 'ls')} += {self.node_value('lam_ion', x)};",
                f"{self.node_value('lam_ion', x)} = T(0);",
            ]
        lam_new = [self.state(s, "ls") for s in range(self.n_states)]
        outs = [f"o{q}" for q in range(n_inputs)]
        compute = [
            f"T {', '.join(outs)};",
            f"update_vjp{j}({', '.join([*self.inputs(True), *lam_new, *outs])});",
            *self.accumulate(outs, len(ions)),
        ]
        gather = refresh + self.gather("v", ion, True)
        loops = [gather, compute, self.scatter(ions, len(ions))]
        return self.block(("p", "s", "bp", "bs", "ls"), loops)

    def scratch_rows(self) -> int:
        current = 2 * len(self.ion_names(False)) + 2 * len(self.fluxes)
        return max(current, 2 * len(self.ion_names(True)))


def _reversals(rows: IonRows) -> tuple[list[str], list[str]]:
    """The reversal potentials' lines (forward) and their cotangents' (backward)."""
    forward, backward = [], []
    for r, (reversal, internal, external, _) in enumerate(rows.reversals):
        at = {name: f"{rows.row(name)} * n + q" for name in (reversal, internal, external)}
        at |= {key: f"{rows.row(reversal + key)} * n + q" for key in (":param", ":nernst")}
        forward += [
            "for (int64_t q = 0; q < n; ++q) {",
            f"  if (ion[{at[':nernst']}] != T(0)) {{",
            f"    nernst{r}(ion[{at[internal]}], ion[{at[external]}], ion[{at[reversal]}]);",
            "  } else {",
            f"    ion[{at[reversal]}] = ion[{at[':param']}];",
            "  }",
            "}",
        ]
        backward += [
            "for (int64_t q = 0; q < n; ++q) {",
            f"  const T lam = lam_ion[{at[reversal]}];",
            f"  lam_ion[{at[reversal]}] = T(0);",
            f"  if (ion_eval[{at[':nernst']}] != T(0)) {{",
            "    T lam_internal, lam_external;",
            f"    nernst_vjp{r}(ion_eval[{at[internal]}], ion_eval[{at[external]}], lam, "
            "lam_internal, lam_external);",
            f"    lam_ion[{at[internal]}] += lam_internal;",
            f"    lam_ion[{at[external]}] += lam_external;",
            "  } else {",
            f"    lam_ion[{at[':param']}] += lam;",
            "  }",
            "}",
        ]
    return forward, backward


def _second_order(rows: IonRows, spec: StaticSpec) -> tuple[list[str], list[str]]:
    """Crank–Nicolson's move of the ion currents to mid-step (forward) and its cotangents."""
    if spec.solver != "crank_nicolson":
        return [], []
    forward, backward = [], []
    for current in rows.currents:
        i, di = rows.row(current), rows.row(f"{current}:slope")
        forward += [
            f"for (int64_t q = 0; q < n; ++q) ion[{i} * n + q] += ion[{di} * n + q] * delta[q];"
        ]
        backward += [
            "for (int64_t q = 0; q < n; ++q) {",
            f"  lam_delta[q] += lam_ion[{i} * n + q] * ion_next[{di} * n + q];",
            f"  lam_ion[{di} * n + q] += lam_ion[{i} * n + q] * delta[q];",
            "}",
        ]
    return forward, backward


def _functions(sites: _Sites, spec: StaticSpec, dtype) -> list[str]:
    """The mechanism's current and update functions and their vector-Jacobian products."""
    j, mechanism = sites.j, sites.mechanism
    current, n_inputs, n_outputs = current_callable(mechanism, spec, sites.recorded)
    vjp = _vjp(current, n_inputs, dtype, with_primal=True)
    functions = [
        scalar_function(f"current{j}", current, n_inputs, n_outputs, dtype),
        scalar_function(f"current_vjp{j}", vjp, n_inputs + n_outputs, n_outputs + n_inputs, dtype),
    ]
    if sites.n_states:
        update, n_inputs = update_callable(mechanism, spec)
        n_states = sites.n_states
        vjp = _vjp(update, n_inputs, dtype)
        functions += [
            scalar_function(f"update{j}", update, n_inputs, n_states, dtype),
            scalar_function(f"update_vjp{j}", vjp, n_inputs + n_states, n_inputs, dtype),
        ]
    return functions


@generated_once
def adjoint_source(spec: StaticSpec, dtype, index_dtype) -> str:
    """The C++ source of the adjoint for `spec` with values of `dtype` (float32 or float64);
    index arrays have `index_dtype`."""
    check_supported(spec, gradient=True)
    check_value_type(dtype)
    rows = ion_rows(spec)
    all_sites = [_Sites(j, m, spec, rows) for j, m in enumerate(spec.mechanisms)]
    functions = [f for sites in all_sites for f in _functions(sites, spec, dtype)]
    for r, (*_, charge) in enumerate(rows.reversals):
        potential = nernst_callable(charge, spec)
        functions.append(scalar_function(f"nernst{r}", potential, 2, 1, dtype))
        functions.append(scalar_function(f"nernst_vjp{r}", _vjp(potential, 2, dtype), 3, 2, dtype))
    reversals, reversal_vjps = _reversals(rows)
    second_order, second_order_vjp = _second_order(rows, spec)
    with_states = [sites for sites in all_sites if sites.n_states]
    writers = [s for s in with_states if membrane.writes_concentration(s.mechanism)]
    others = [s for s in with_states if s not in writers]
    zeroed = [row for current in rows.currents for row in (current, f"{current}:slope")]
    clear, clear_lam = (
        [f"std::fill({a} + {rows.row(x)} * n, {a} + {rows.row(x) + 1} * n, T(0));" for x in zeroed]
        for a in ("ion", "lam_ion")
    )

    def lines(parts) -> str:
        return "\n".join(line for part in parts for line in part)

    replacements = {
        "@N_ION_ROWS@": str(len(rows.names)),
        "@N_WRITTEN@": str(len(rows.written)),
        "@WRITTEN_ROWS@": ", ".join(str(rows.row(x)) for x in rows.written),
        "@SCRATCH_ROWS@": str(max([1, *(sites.scratch_rows() for sites in all_sites)])),
        "@PARAM_ROWS@": ", ".join(str(s.n_params + 1) for s in all_sites) + ", 0",
        "@STATE_ROWS@": ", ".join(str(s.n_states) for s in all_sites) + ", 0",
        "@DENSITY_ROWS@": ", ".join(str(len(s.recorded)) for s in all_sites) + ", 0",
        "@MECHANISM_FUNCTIONS@": "\n\n".join(functions),
        "@EVALUATION@": lines([reversals, clear, *(sites.evaluation() for sites in all_sites)]),
        "@SECOND_ORDER@": "\n".join(second_order),
        "@UPDATES@": lines(sites.update() for sites in writers + others),
        "@UPDATE_VJPS@": lines(
            [
                *(sites.update_vjp("ion_next") for sites in others),
                *(sites.update_vjp("ion_eval") for sites in reversed(writers)),
            ]
        ),
        "@SECOND_ORDER_VJP@": "\n".join(second_order_vjp),
        "@EVALUATION_VJPS@": lines(
            [*(sites.evaluation_vjp() for sites in all_sites), clear_lam, reversal_vjps]
        ),
    }
    return filled_template("adjoint.cc", spec, dtype, index_dtype, replacements)
