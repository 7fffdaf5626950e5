// Drives `python -m rr dap` with the reference DAP client library through one scenario and
// prints what it saw as one JSON object (tests/dap/test_dap.py checks it).
// Usage: node scenario.js '{"scenario": NAME, "python": ..., "repo": ..., "trace": ...,
//                            "sourceRoot": ..., "source": ..., "line": N, "port": N?}'
'use strict';
const cp = require('child_process');
const { DebugClient } = require('@vscode/debugadapter-testsupport');

const config = JSON.parse(process.argv[2]);
const TIMEOUT = 30000;

function client() {
  const dc = new DebugClient(config.python, '', 'rrvm');
  dc.defaultTimeout = TIMEOUT;
  if (config.port !== undefined) {
    return dc.start(config.port).then(() => dc);
  }
  const child = cp.spawn(config.python, ['-m', 'rr', 'dap'],
                         { cwd: config.repo, stdio: ['pipe', 'pipe', 'inherit'] });
  // The adapter exits after disconnect: a write the client library still makes then
  // fails with EPIPE, which must not fail the scenario.
  child.stdin.on('error', () => {});
  dc.connect(child.stdout, child.stdin);
  dc.child = child;
  return Promise.resolve(dc);
}

async function top(dc) {
  const trace = await dc.stackTraceRequest({ threadId: 1 });
  const frame = trace.body.stackFrames[0];
  const icount = await dc.variablesRequest({ variablesReference: 1 })
    .then(r => r.body.variables.find(v => v.name === 'icount').value);
  return { name: frame.name, line: frame.line, path: frame.source && frame.source.path,
           pc: frame.instructionPointerReference, icount: Number(icount) };
}

async function stopAfter(dc, request) {
  const stopped = dc.waitForEvent('stopped');
  await request;
  return (await stopped).body;
}

async function launch(dc, extra) {
  const initialized = dc.waitForEvent('initialized');
  const init = await dc.initializeRequest({ adapterID: 'rrvm' });
  await dc.launchRequest(Object.assign({ program: config.trace, sourceRoot: config.sourceRoot },
                                       extra || {}));
  await initialized;
  return init.body;
}

function sleep(ms) {
  return new Promise(resolve => setTimeout(resolve, ms));
}

// Start a movement, pause it after ``ms`` milliseconds; the stopped event it caused.
async function pauseAfter(dc, request, ms) {
  const stopped = dc.waitForEvent('stopped');
  await request;
  await sleep(ms);
  await dc.pauseRequest({ threadId: 1 });
  return (await stopped).body;
}

// The top frame of one thread, and the a0 and icount its registers show.
async function topOf(dc, threadId) {
  const frame = (await dc.stackTraceRequest({ threadId })).body.stackFrames[0];
  const registers = (await dc.variablesRequest({ variablesReference: 1 })).body.variables;
  const value = name => registers.find(v => v.name === name).value;
  return { name: frame.name, pc: frame.instructionPointerReference,
           a0: Number(value('a0')), icount: Number(value('icount')) };
}

const scenarios = {
  // The threads of a guest stopped at its entry.
  async threads(dc) {
    await launch(dc, { stopOnEntry: true });
    const entry = await stopAfter(dc, dc.configurationDoneRequest());
    const threads = (await dc.threadsRequest()).body.threads;
    await dc.disconnectRequest({});
    return { entry, threads };
  },
  // An SMP trace: one thread per hart, a breakpoint only secondary harts reach, the stack
  // and steps of the thread that hit it, the boot hart's thread meanwhile.
  async harts(dc) {
    await launch(dc);
    const threads = (await dc.threadsRequest()).body.threads;
    await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: config.function }] });
    const hit = await stopAfter(dc, dc.configurationDoneRequest());
    const thread = hit.threadId;
    const at = await topOf(dc, thread);
    const boot = await topOf(dc, 1);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    const stepIn = await stopAfter(dc, dc.stepInRequest({ threadId: thread,
                                                          granularity: 'instruction' }));
    const stepped = await topOf(dc, thread);
    const stepBack = await stopAfter(dc, dc.stepBackRequest({ threadId: thread,
                                                              granularity: 'instruction' }));
    const back = await topOf(dc, thread);
    const next = await stopAfter(dc, dc.nextRequest({ threadId: thread }));
    const ahead = await topOf(dc, thread);
    const bootStep = await stopAfter(dc, dc.stepInRequest({ threadId: 1,
                                                            granularity: 'instruction' }));
    const bootStepped = await topOf(dc, 1);
    const bad = await dc.stackTraceRequest({ threadId: threads.length + 1 })
      .then(() => null, e => e.message);
    // Into race() on the same thread (a breakpoint any hart may hit first: continue until
    // this one does), then out of it on that thread.
    await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'race' }] });
    let inRace;
    do {
      inRace = await stopAfter(dc, dc.continueRequest({ threadId: thread }));
    } while (inRace.reason === 'function breakpoint' && inRace.threadId !== thread);
    const raceTop = await topOf(dc, thread);
    await dc.setFunctionBreakpointsRequest({ breakpoints: [] });
    const out = await stopAfter(dc, dc.stepOutRequest({ threadId: thread }));
    const caller = await topOf(dc, thread);
    await dc.disconnectRequest({});
    return { threads, hit, at, boot, stepIn, stepped, stepBack, back, next, ahead, bootStep,
             bootStepped, bad, inRace, raceTop, out, caller };
  },
  // A breakpoint by source line, the stack there, then a step back and a step forward.
  async breakpoint(dc) {
    const capabilities = await launch(dc);
    const set = await dc.setBreakpointsRequest({ source: { path: config.source },
                                                 breakpoints: [{ line: config.line }] });
    const stop = await stopAfter(dc, dc.configurationDoneRequest());
    const at = await top(dc);
    const back = await stopAfter(dc, dc.stepBackRequest({ threadId: 1 }));
    const behind = await top(dc);
    const backInsn = await stopAfter(dc, dc.stepBackRequest({ threadId: 1,
                                                              granularity: 'instruction' }));
    const behindInsn = await top(dc);
    const next = await stopAfter(dc, dc.nextRequest({ threadId: 1 }));
    const ahead = await top(dc);
    const again = await stopAfter(dc, dc.continueRequest({ threadId: 1 }));
    const second = await top(dc);
    await dc.disconnectRequest({});
    return { capabilities, set: set.body.breakpoints, stop, at, back, behind, backInsn,
             behindInsn, next, ahead, again, second };
  },
  // Stopped at entry, a function breakpoint, out of the function, one instruction in, pause.
  async function(dc) {
    await launch(dc, { stopOnEntry: true });
    const entry = await stopAfter(dc, dc.configurationDoneRequest());
    const start = await top(dc);
    const set = await dc.setFunctionBreakpointsRequest({ breakpoints: [
      { name: config.function }, { name: 'no_such_function' }] });
    const hit = await stopAfter(dc, dc.continueRequest({ threadId: 1 }));
    const inside = await top(dc);
    const stack = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames
      .map(f => ({ name: f.name, line: f.line, pc: f.instructionPointerReference }));
    const scopes = (await dc.scopesRequest({ frameId: 0 })).body.scopes;
    const localsScope = scopes.find(scope => scope.name === 'Locals');
    const locals = (await dc.variablesRequest({ variablesReference:
                                                localsScope.variablesReference })).body.variables
      .map(v => [v.name, v.value]);
    const out = await stopAfter(dc, dc.stepOutRequest({ threadId: 1 }));
    const caller = await top(dc);
    const stepIn = await stopAfter(dc, dc.stepInRequest({ threadId: 1,
                                                          granularity: 'instruction' }));
    const stepped = await top(dc);
    const pause = await stopAfter(dc, dc.pauseRequest({ threadId: 1 }));
    await dc.disconnectRequest({});
    return { entry, start, set: set.body.breakpoints, hit, inside, stack, locals, out, caller,
             stepIn, stepped, pause };
  },
  // A guest image run live: its console output, its exit, then a step back in its history.
  async live(dc) {
    const output = [];
    dc.on('output', event => {
      if (event.body.category === 'stdout') { output.push(event.body.output); }
    });
    await launch(dc, { program: config.image });
    const exited = dc.waitForEvent('exited');
    const end = await stopAfter(dc, dc.configurationDoneRequest());
    const exitCode = (await exited).body.exitCode;
    const last = await top(dc);
    const back = await stopAfter(dc, dc.stepBackRequest({ threadId: 1,
                                                           granularity: 'instruction' }));
    const before = await top(dc);
    await dc.disconnectRequest({});
    return { output: output.join(''), end, exitCode, last, back, before };
  },
  // The call stack and locals (members expanded) at the first stop at a function
  // breakpoint, or at a line's if the configuration names a line.
  async stack(dc) {
    await launch(dc);
    if (config.line) {
      await dc.setBreakpointsRequest({ source: { path: config.source },
                                       breakpoints: [{ line: config.line }] });
    } else {
      await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: config.function }] });
    }
    const hit = await stopAfter(dc, dc.configurationDoneRequest());
    const stack = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames
      .map(f => ({ name: f.name, line: f.line, pc: f.instructionPointerReference }));
    const scopes = (await dc.scopesRequest({ frameId: 0 })).body.scopes;
    const localsScope = scopes.find(scope => scope.name === 'Locals');
    const locals = [];
    for (const v of (await dc.variablesRequest({ variablesReference:
                                                 localsScope.variablesReference })).body.variables) {
      const local = { name: v.name, value: v.value, type: v.type,
                      memoryReference: v.memoryReference };
      if (v.variablesReference) {
        local.members = (await dc.variablesRequest({ variablesReference: v.variablesReference }))
          .body.variables.map(m => ({ name: m.name, value: m.value, type: m.type }));
      }
      locals.push(local);
    }
    // Every frame's locals, as [name, value] pairs (null: the frame has no Locals scope).
    const frameLocals = [];
    const frames = (await dc.stackTraceRequest({ threadId: 1 })).body.stackFrames;
    for (const frame of frames) {
      const scope = (await dc.scopesRequest({ frameId: frame.id })).body.scopes
        .find(s => s.name === 'Locals');
      frameLocals.push(scope ? (await dc.variablesRequest({ variablesReference:
                                                            scope.variablesReference }))
        .body.variables.map(v => [v.name, v.value]) : null);
    }
    await dc.disconnectRequest({});
    return { hit, stack, locals, frameLocals };
  },
  // A long guest run live: a continue paused while it runs, then a reverse continue
  // (towards a breakpoint history never reached) paused too, then one left to finish.
  async pause(dc) {
    const stops = [];
    dc.on('stopped', event => stops.push(event.body.reason));
    await launch(dc, { program: config.image });
    const ran = await pauseAfter(dc, dc.configurationDoneRequest(), config.runFor);
    const paused = await top(dc);
    const set = await dc.setFunctionBreakpointsRequest({ breakpoints: [{ name: 'poweroff' }] });
    const back = await pauseAfter(dc, dc.reverseContinueRequest({ threadId: 1 }), config.backFor);
    const pausedBack = await top(dc);
    const start = await stopAfter(dc, dc.reverseContinueRequest({ threadId: 1 }));
    const first = await top(dc);
    await dc.disconnectRequest({});
    return { ran, paused, set: set.body.breakpoints, back, pausedBack, start, first, stops };
  },
  // To the end of history (the crash), then back to the last write to shared_list.
  async watch(dc) {
    await launch(dc);
    const exited = dc.waitForEvent('exited');
    const end = await stopAfter(dc, dc.configurationDoneRequest());
    const exitCode = (await exited).body.exitCode;
    const info = await dc.dataBreakpointInfoRequest({ name: 'shared_list' });
    const set = await dc.setDataBreakpointsRequest({ breakpoints: [
      { dataId: info.body.dataId, accessType: 'write' }] });
    const hit = await stopAfter(dc, dc.reverseContinueRequest({ threadId: 1 }));
    const at = await top(dc);
    const disassembly = await dc.disassembleRequest({ memoryReference: at.pc,
                                                      instructionCount: 1 });
    const regs = await dc.evaluateRequest({ expression: 'regs', context: 'repl' });
    const memory = await dc.customRequest('readMemory', { memoryReference: info.body.dataId
      .split('/')[0], count: 16 });
    const bad = await dc.evaluateRequest({ expression: 'no-such-command', context: 'repl' })
      .then(r => ({ success: true, body: r.body }), e => ({ success: false, message: e.message }));
    const goto = await stopAfter(dc, dc.customRequest('gotoIcount', { icount: 1000 }));
    const there = await top(dc);
    await dc.disconnectRequest({});
    return { end, exitCode, info: info.body, set: set.body.breakpoints, hit, at,
             instruction: disassembly.body.instructions[0], regs: regs.body.result,
             memory: memory.body, bad, goto, there };
  },
};

(async () => {
  const dc = await client();
  try {
    const result = await scenarios[config.scenario](dc);
    process.stdout.write(JSON.stringify(result) + '\n');
    process.exitCode = 0;
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: String(error && error.message || error) }) + '\n');
    process.exitCode = 1;
  } finally {
    await dc.stop().catch(() => {});
    if (dc.child) { dc.child.kill(); }
  }
})();
