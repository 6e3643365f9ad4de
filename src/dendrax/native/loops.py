"""The C++ loops that apply a model's mechanisms in a step of W lanes, and their adjoints.

One emitter for both native libraries: the forward step of `step.h` (used by the kernel and
by the adjoint's forward pass) and the adjoint's vector-Jacobian products of it. Values are
lane-interleaved (step.h): node value i of lane w at [i * W + w], row r of a mechanism's
site values or states at [(r * count + k) * W + w].
"""

import dataclasses
import functools

from dendrax.mechanisms import membrane
from dendrax.mechanisms.base import Mechanism
from dendrax.native.codegen import scalar_function
from dendrax.static_spec import StaticSpec


@dataclasses.dataclass(frozen=True)
class Placement:
    """Where a block keeps the per-site values it passes from its gather to its compute and
    from its compute to its scatter (`Scratch` in step.h): a row per site-lane, index `k`, in
    a flat block (gather, compute and scatter each a loop over all sites); one vector of a
    site's lanes, index `w`, in a nested block (one loop over the sites, all three per site:
    the node values are read and their cotangents added where they are, with no rows of
    gathered values to write and read back)."""

    index: str
    row_length: str

    @property
    def v(self) -> str:
        return f"scratch.v[{self.index}]"

    @property
    def a(self) -> str:
        return f"scratch.a[{self.index}]"

    @property
    def b(self) -> str:
        return f"scratch.b[{self.index}]"

    def g(self, r: int) -> str:
        """Row r of `scratch.g`."""
        return f"scratch.g[{r} * {self.row_length} + {self.index}]"


FLAT = Placement("k", "scratch.stride")
NESTED = Placement("w", "W")


class Sites:
    """C++ lines for one mechanism's sites: `count` of them at nodes `node[site]`, with site
    values `p` (row by row, its area scale last), states `s` and, in the backward pass,
    their cotangents `bp`, `bs` and the new states' `ls`; new states `ns` in the forward
    pass. A block gathers per site and lane (site-lane index `k`, node-lane index `at`),
    computes and scatters (`block`), its per-site values kept as its `Placement` says."""

    def __init__(self, j: int, mechanism: Mechanism, spec: StaticSpec):
        from dendrax.native import source  # here: source imports this module

        self.j, self.mechanism = j, mechanism
        self.rows = source.ion_rows(spec)
        self.n_params = len(source.site_inputs(mechanism, spec))
        self.n_states = len(mechanism.states)
        _, self.current_inputs = source.function_arguments(mechanism, spec, with_currents=False)
        _, self.update_inputs = source.function_arguments(mechanism, spec, with_currents=True)
        self.fluxes = source.summed_fluxes(mechanism, spec)
        self.recorded = source.recorded_densities(mechanism, spec)
        self.timed = source.uses_time(mechanism, spec)
        self.receives = spec.events is not None and mechanism.receives_events
        self.n_received = len(mechanism.parameters) if self.receives else 0

    def state(self, s: int, array: str = "s") -> str:
        return f"{array}[{s} * stride + k]"

    def param(self, p: int, array: str = "p") -> str:
        return f"{array}[{p} * stride + k]"

    def ion_names(self, with_currents: bool) -> tuple[str, ...]:
        """The per-node values the functions read after the site inputs: ion rows, then a
        junction's "v_peer" (the voltage at the site's peer node)."""
        names = self.update_inputs if with_currents else self.current_inputs
        return names[self.n_params :]

    def node_value(self, array: str, name: str) -> str:
        return f"{array}[{self.rows.row(name)} * n * W + at]"

    def gathered(self, name: str, ion: str, v: str) -> str:
        """Where the value `name` of `ion_names` is: an ion row of `ion`, or for "v_peer"
        the voltage array `v` at the peer node (its cotangent goes to the same place in
        the cotangent arrays)."""
        return f"{v}[peer[site] * W + w]" if name == "v_peer" else self.node_value(ion, name)

    def block(
        self, pointers: tuple[str, ...], loops, nested: bool = True, per_site: tuple[str, ...] = ()
    ) -> list[str]:
        """The mechanism's block: its pointers, then the gather, compute and scatter lines
        that `loops(placement)` gives. One simulation (W = 1) runs them flat: a loop each,
        the compute loop vectorised over the sites (contiguous operands, no dependences
        between sites). Lane groups run them `nested`, site by site, each site's lanes one
        vector, which saves the gathered rows' memory traffic (forward 5 % faster on the
        benchmark tree); `per_site` lines follow each site's lanes there. Flat where a
        site's scatter may change what a later site of the mechanism gathers (`nested`
        False: the writers of concentrations, whose sites may share a node). The loops over
        a site's lanes are told that their arrays do not overlap, which GCC otherwise
        assumes they might and runs lane by lane."""
        j = self.j
        declared = {
            "p": f"const T* p = params + model.param_begin[{j}] * W;",
            "s": f"const T* s = states + model.state_begin[{j}] * W;",
            "ns": f"T* ns = next_states + model.state_begin[{j}] * W;",
            "bp": f"T* bp = bar_params + model.param_begin[{j}] * W;",
            "bs": f"T* bs = bar_states + model.state_begin[{j}] * W;",
            "ls": f"T* ls = lam_states + model.state_begin[{j}] * W;",
            "rd": f"T* rd = density + model.density_begin[{j}] * W;",
            "lrd": f"T* lrd = lam_density + model.density_begin[{j}] * W;",
        }
        lines = [
            "{",
            f"  const int64_t count = model.site_count[{j}], stride = count * W;",
            f"  const Index* node = model.site_node + model.site_begin[{j}];",
            f"  const Index* peer = model.site_peer + model.site_begin[{j}];",
            *(f"  {declared[name]}" for name in pointers),
        ]
        per_lane = [
            "for (int64_t site = 0; site < count; ++site) {",
            "  #pragma GCC ivdep",
            "  for (int w = 0; w < W; ++w) {",
            "    const int64_t k = site * W + w, at = node[site] * W + w;",
        ]
        gather, compute, scatter = loops(FLAT)
        flat = []
        if gather:
            flat += per_lane + [f"    {line}" for line in gather] + ["  }", "}"]
        flat += ["#pragma GCC ivdep", "for (int64_t k = 0; k < stride; ++k) {"]
        flat += [f"  {line}" for line in compute] + ["}"]
        if scatter:
            flat += per_lane + [f"    {line}" for line in scatter] + ["  }", "}"]
        if not nested:
            return [*lines, *(f"  {line}" for line in flat), "}"]
        in_site = [f"    {line}" for part in loops(NESTED) for line in part]
        by_site = [*per_lane, *in_site, "  }", *(f"  {line}" for line in per_site), "}"]
        return [
            *lines,
            "  if constexpr (W == 1) {",
            *(f"    {line}" for line in flat),
            "  } else {",
            *(f"    {line}" for line in by_site),
            "  }",
            "}",
        ]

    def inputs(self, x: Placement, with_currents: bool) -> list[str]:
        """The arguments of the mechanism's functions (the time t last where it takes t)."""
        ions = self.ion_names(with_currents)
        return [
            x.v,
            *(self.state(s) for s in range(self.n_states)),
            *(self.param(q) for q in range(self.n_params)),
            *(x.g(d) for d in range(len(ions))),
            *(["t"] if self.timed else []),
        ]

    def cotangents(self, with_currents: bool) -> list[str]:
        """Names for the cotangents of `inputs` (t's, which nothing takes, last)."""
        n_inputs = len(self.inputs(FLAT, with_currents))
        return [f"o{q}" for q in range(n_inputs - self.timed)] + (["ot"] if self.timed else [])

    def gather(self, x: Placement, v: str, ion: str, with_currents: bool) -> list[str]:
        ions = self.ion_names(with_currents)
        return [
            f"{x.v} = {v}[at];",
            *(f"{x.g(d)} = {self.gathered(name, ion, v)};" for d, name in enumerate(ions)),
        ]

    def accumulate(
        self, x: Placement, outs: list[str], ion_first: int, zeros: set[int], first: bool = False
    ) -> list[str]:
        """Input cotangents `outs` (of v, states, site inputs, ion rows; t's is dropped) to
        scratch.a, bs, bp and the g rows from `ion_first` on; the states' and site inputs'
        whose index is in `zeros` (constant 0) are not added. `first`: the states' are the
        first written to bs in the step, which they set."""
        n_states, n_params = self.n_states, self.n_params
        outs = outs[: len(outs) - self.timed]
        lines = [f"{x.a} = {outs[0]};"]
        if first:
            lines += [f"{self.state(s, 'bs')} = {outs[1 + s]};" for s in range(n_states)]
        else:
            lines += [
                f"{self.state(s, 'bs')} += {outs[1 + s]};"
                for s in range(n_states)
                if 1 + s not in zeros
            ]
        lines += [
            f"{self.param(q, 'bp')} += {outs[1 + n_states + q]};"
            for q in range(n_params)
            if 1 + n_states + q not in zeros
        ]
        ions = outs[1 + n_states + n_params :]
        lines += [f"{x.g(ion_first + d)} = {o};" for d, o in enumerate(ions)]
        return lines

    def scatter(self, x: Placement, ion_names: tuple[str, ...], ion_first: int) -> list[str]:
        return [
            f"lam_v[at] += {x.a};",
            *(
                f"{self.gathered(name, 'lam_ion', 'lam_v')} += {x.g(ion_first + d)};"
                for d, name in enumerate(ion_names)
            ),
        ]

    def flux_rows(self) -> list[str]:
        return [row for flux in self.fluxes for row in (flux, f"{flux}:slope")]

    def evaluation(self) -> list[str]:
        j, scale = self.j, self.param(self.n_params)
        fluxes = [f"f{e}" for e in range(2 * len(self.fluxes))]
        recorded = [self.state(r, "rd") for r in range(len(self.recorded))]
        first = len(self.ion_names(False))

        def loops(x: Placement) -> list[list[str]]:
            outputs = ["i", "di", *fluxes, *recorded]
            compute = [
                f"T {', '.join(['i', 'di', *fluxes])};",
                f"current{j}({', '.join([*self.inputs(x, False), *outputs])});",
                f"{x.a} = i * {scale};",
                f"{x.b} = di * {scale};",
                *(f"{x.g(first + e)} = {f};" for e, f in enumerate(fluxes)),
            ]
            scatter = [f"current[at] += {x.a};", f"slope[at] += {x.b};"]
            scatter += [
                f"{self.node_value('ion', row)} += {x.g(first + e)};"
                for e, row in enumerate(self.flux_rows())
            ]
            return [self.gather(x, "v", "ion", False), compute, scatter]

        pointers = ("p", "s", "rd") if self.recorded else ("p", "s")
        return self.block(pointers, loops)

    def evaluation_vjp(self, zeros: set[int]) -> list[str]:
        """`zeros`: the input cotangents of current_vjp that are the constant 0."""
        j, scale = self.j, self.param(self.n_params)
        ions = self.ion_names(False)
        n_flux = 2 * len(self.fluxes)
        n_recorded = len(self.recorded)
        primal = [
            "i",
            "di",
            *(f"f{e}" for e in range(n_flux)),
            *(f"d{r}" for r in range(n_recorded)),
        ]
        outs = self.cotangents(False)
        lam_recorded = [f"ld{r}" for r in range(n_recorded)]

        def loops(x: Placement) -> list[list[str]]:
            gather = self.gather(x, "v", "ion_eval", False)
            gather += [f"{x.a} = lam_current[at];", f"{x.b} = lam_slope[at];"]
            gather += [
                f"{x.g(len(ions) + e)} = {self.node_value('lam_ion', row)};"
                for e, row in enumerate(self.flux_rows())
            ]
            lam_fluxes = [x.g(len(ions) + e) for e in range(n_flux)]
            compute = [
                f"const T lam_i = {x.a}, lam_di = {x.b};",
                *(f"const T ld{r} = {self.state(r, 'lrd')};" for r in range(n_recorded)),
                *(f"{self.state(r, 'lrd')} = T(0);" for r in range(n_recorded)),
                f"T {', '.join([*primal, *outs])};",
                f"current_vjp{j}({', '.join(self.inputs(x, False))}, lam_i * {scale}, "
                f"lam_di * {scale}, {', '.join([*lam_fluxes, *lam_recorded, *primal, *outs])});",
                f"{self.param(self.n_params, 'bp')} += lam_i * i + lam_di * di;",
                *self.accumulate(x, outs, len(ions) + n_flux, zeros),
            ]
            return [gather, compute, self.scatter(x, ions, len(ions) + n_flux)]

        pointers = ("p", "s", "bp", "bs", *(("lrd",) if n_recorded else ()))
        return self.block(pointers, loops)

    def update(self) -> list[str]:
        j = self.j
        new = [self.state(s, "ns") for s in range(self.n_states)]
        refresh = [
            f"{self.node_value('ion', x)} = {self.state(s, 'ns')};" for s, x in self.written()
        ]

        def loops(x: Placement) -> list[list[str]]:
            compute = [f"update{j}({', '.join([*self.inputs(x, True), *new])});"]
            return [self.gather(x, "v", "ion", True), compute, refresh]

        nested = not self.written()
        return self.block(("p", "s", "ns"), loops, nested, per_site=("stream.some();",))

    def written(self) -> list[tuple[int, str]]:
        """(state index, row) of the concentrations this mechanism writes."""
        states = list(self.mechanism.states)
        return [(states.index(x), x) for x in self.mechanism.writes if x in self.rows.written]

    def update_vjp(self, ion: str, zeros: set[int]) -> list[str]:
        """Reads the ion rows from `ion`; a writer first takes its rows' cotangents. `zeros`:
        the input cotangents of update_vjp that are the constant 0."""
        j, ions = self.j, self.ion_names(True)
        refresh = []
        for s, x in self.written():
            refresh += [
                f"{self.state(s, 'ls')} += {self.node_value('lam_ion', x)};",
                f"{self.node_value('lam_ion', x)} = T(0);",
            ]
        lam_new = [self.state(s, "ls") for s in range(self.n_states)]
        outs = self.cotangents(True)

        def loops(x: Placement) -> list[list[str]]:
            compute = [
                f"T {', '.join(outs)};",
                f"update_vjp{j}({', '.join([*self.inputs(x, True), *lam_new, *outs])});",
                *self.accumulate(x, outs, len(ions), zeros, first=True),
            ]
            gather = refresh + self.gather(x, "v", ion, True)
            return [gather, compute, self.scatter(x, ions, len(ions))]

        return self.block(("p", "s", "bp", "bs", "ls"), loops, nested=not self.written())

    def receive_case(self) -> list[str]:
        """The case of `receive_at` (step.h) for this mechanism: its site's states after an
        event, in place."""
        j, n = self.j, self.n_states
        new = [f"n{r}" for r in range(n)]
        args = [*(f"s[{r} * stride + k]" for r in range(n)), *self._received_params(), "lag"]
        return [
            f"case {j}: {{",
            f"  T {', '.join(new)};",
            f"  receive{j}({', '.join([*args, *new])});",
            *(f"  s[{r} * stride + k] = n{r};" for r in range(n)),
            "  break;",
            "}",
        ]

    def receive_vjp_case(self) -> list[str]:
        """The case of `receive_vjp_at` (adjoint.cc): from the cotangents of the states after
        an event (replaced by those before it) to the parameters' (added) and the lag's
        (returned), at the states before it, `pre`."""
        j, n, m = self.j, self.n_states, self.n_received
        outs = [f"o{q}" for q in range(n + m + 1)]
        args = [*(f"pre[{r}]" for r in range(n)), *self._received_params(), "lag"]
        args += [f"ls[{r} * stride + k]" for r in range(n)]
        return [
            f"case {j}: {{",
            f"  T {', '.join(outs)};",
            f"  receive_vjp{j}({', '.join([*args, *outs])});",
            *(f"  ls[{r} * stride + k] = o{r};" for r in range(n)),
            *(f"  bp[{q} * stride + k] += o{n + q};" for q in range(m)),
            f"  return o{n + m};",
            "}",
        ]

    def self_event_row(self) -> int:
        """The state row of the time of a site's own event (`Mechanism.self_events`), -1
        for none."""
        own = self.mechanism.self_events
        return list(self.mechanism.states).index(own) if self.receives and own else -1

    def _received_params(self) -> list[str]:
        return [f"p[{q} * stride + k]" for q in range(self.n_received)]

    def scratch_rows(self) -> int:
        current = 2 * len(self.ion_names(False)) + 2 * len(self.fluxes)
        return max(current, 2 * len(self.ion_names(True)))


@functools.lru_cache(maxsize=64)
def model_sites(spec: StaticSpec) -> tuple[Sites, ...]:
    """The `Sites` of each of the model's mechanisms (made once per spec: the kernel's and
    the adjoint's sources share them)."""
    return tuple(Sites(j, m, spec) for j, m in enumerate(spec.mechanisms))


def update_order(all_sites: list[Sites]) -> tuple[list[Sites], list[Sites]]:
    """The mechanisms with states: those that write concentrations (updated first), the
    others."""
    with_states = [sites for sites in all_sites if sites.n_states]
    writers = [s for s in with_states if membrane.writes_concentration(s.mechanism)]
    return writers, [s for s in with_states if s not in writers]


def reversals(rows) -> tuple[list[str], list[str]]:
    """The reversal potentials' lines (forward: at every node, then chosen, so that the loop
    vectorises) and their cotangents' (backward)."""
    forward, backward = [], []
    for r, (reversal, internal, external, _) in enumerate(rows.reversals):
        names = (reversal, internal, external, "celsius")
        at = {name: f"{rows.row(name)} * n * W + q" for name in names}
        at |= {key: f"{rows.row(reversal + key)} * n * W + q" for key in (":param", ":nernst")}
        forward += [
            "for (int64_t q = 0; q < n * W; ++q) {",
            "  T potential;",
            f"  nernst{r}(ion[{at[internal]}], ion[{at[external]}], ion[{at['celsius']}], "
            "potential);",
            f"  ion[{at[reversal]}] = ion[{at[':nernst']}] != T(0) ? potential : "
            f"ion[{at[':param']}];",
            "}",
        ]
        backward += [
            "for (int64_t q = 0; q < n * W; ++q) {",
            f"  const T lam = lam_ion[{at[reversal]}];",
            f"  lam_ion[{at[reversal]}] = T(0);",
            f"  if (ion_eval[{at[':nernst']}] != T(0)) {{",
            "    T lam_internal, lam_external, lam_celsius;",
            f"    nernst_vjp{r}(ion_eval[{at[internal]}], ion_eval[{at[external]}], "
            f"ion_eval[{at['celsius']}], lam, lam_internal, lam_external, lam_celsius);",
            f"    lam_ion[{at[internal]}] += lam_internal;",
            f"    lam_ion[{at[external]}] += lam_external;",
            f"    lam_ion[{at['celsius']}] += lam_celsius;",
            "  } else {",
            f"    lam_ion[{at[':param']}] += lam;",
            "  }",
            "}",
        ]
    return forward, backward


def second_order(rows, spec: StaticSpec) -> tuple[list[str], list[str]]:
    """Crank–Nicolson's move of the ion currents to mid-step (forward) and its cotangents."""
    if spec.solver != "crank_nicolson":
        return [], []
    forward, backward = [], []
    for current in rows.currents:
        i, di = (f"{rows.row(name)} * n * W + q" for name in (current, f"{current}:slope"))
        forward += [f"for (int64_t q = 0; q < n * W; ++q) ion[{i}] += ion[{di}] * delta[q];"]
        backward += [
            "for (int64_t q = 0; q < n * W; ++q) {",
            f"  lam_delta[q] += lam_ion[{i}] * ion_next[{di}];",
            f"  lam_ion[{di}] += lam_ion[{i}] * delta[q];",
            "}",
        ]
    return forward, backward


def summed_rows(rows) -> list[str]:
    """The ion rows summed in every step (ion currents and their slopes), cleared first."""
    return [row for current in rows.currents for row in (current, f"{current}:slope")]


def cleared(rows, array: str) -> list[str]:
    """Lines that clear the `summed_rows` of `array` (lane-interleaved, n nodes a row)."""
    return [
        f"std::fill({array} + {rows.row(x)} * n * W, {array} + {rows.row(x) + 1} * n * W, T(0));"
        for x in summed_rows(rows)
    ]


def step_replacements(spec: StaticSpec, dtype) -> dict[str, str]:
    """The @NAMES@ of step.h for `spec`: the mechanisms' functions and the loops of a step."""
    from dendrax.native import source  # here: source imports this module

    rows = source.ion_rows(spec)
    all_sites = model_sites(spec)
    functions = []
    for sites in all_sites:
        j, mechanism = sites.j, sites.mechanism
        current, n_inputs, n_outputs = source.current_callable(mechanism, spec)
        functions.append(scalar_function(f"current{j}", current, n_inputs, n_outputs, dtype))
        if sites.n_states:
            update, n_inputs = source.update_callable(mechanism, spec)
            functions.append(scalar_function(f"update{j}", update, n_inputs, sites.n_states, dtype))
        if sites.receives:
            receive, n_inputs = source.receive_callable(mechanism)
            functions.append(
                scalar_function(f"receive{j}", receive, n_inputs, sites.n_states, dtype)
            )
    for r, (*_, charge) in enumerate(rows.reversals):
        potential = source.nernst_callable(charge)
        functions.append(scalar_function(f"nernst{r}", potential, 3, 1, dtype))
    writers, others = update_order(all_sites)
    forward_reversals, _ = reversals(rows)

    def lines(parts) -> str:
        return "\n".join(line for part in parts for line in part)

    return {
        "@PARAM_ROWS@": ", ".join(str(s.n_params + 1) for s in all_sites) + ", 0",
        "@STATE_ROWS@": ", ".join(str(s.n_states) for s in all_sites) + ", 0",
        "@DENSITY_ROWS@": ", ".join(str(len(s.recorded)) for s in all_sites) + ", 0",
        "@SCRATCH_ROWS@": str(max([1, *(sites.scratch_rows() for sites in all_sites)])),
        "@MECHANISM_FUNCTIONS@": "\n\n".join(functions),
        "@EVALUATION@": lines(
            [forward_reversals, cleared(rows, "ion"), *(s.evaluation() for s in all_sites)]
        ),
        "@SECOND_ORDER@": "\n".join(second_order(rows, spec)[0]),
        "@UPDATES@": lines(sites.update() for sites in writers + others),
        "@EVENTS@": "true" if spec.events is not None else "false",
        "@INTERPOLATED@": "true" if events_interpolated(spec) else "false",
        "@RECEIVES@": ", ".join(str(int(s.receives)) for s in all_sites) + ", 0",
        "@MAX_RECEIVED_STATES@": str(max([0, *(s.n_states for s in all_sites if s.receives)])),
        "@RECEIVE_CASES@": lines(s.receive_case() for s in all_sites if s.receives),
        "@EVENT_TIME@": ", ".join(str(int(s.mechanism.event_time)) for s in all_sites) + ", 0",
        "@SELF_EVENT_ROWS@": ", ".join(str(s.self_event_row()) for s in all_sites) + ", -1",
    }


def events_interpolated(spec: StaticSpec) -> bool:
    """Whether spike times are interpolated within the step (`events="interpolated"`)."""
    return spec.events is not None and spec.events.mode == "interpolated"
