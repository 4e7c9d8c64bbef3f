/** engram.graph: graphs, compiled plans and bindable states. */
export { Graph, Value, type NodeOptions } from './graph.js';
export { Plan, type BindableState, type CompileOptions, type PlanStats, type PlanInputs, type PlanStates } from './plan.js';
