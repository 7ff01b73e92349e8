#:project ../src/Kettle/Kettle.csproj
#:property EventSourceSupport=true
// Two named tasks that await each other: nothing ever finishes. `kettle pstree PID` refuses to draw a tree and
// reports the cycle on standard error (exit status 1), as asyncio's pstree does:
//   ERROR: await-graph contains cycles - cannot print a tree!
//
//   cycle: Bob → Alice → Bob
// `kettle ps PID` still lists both. Runs until stopped (Ctrl+C).
// (#:property EventSourceSupport=true: file-based apps switch EventSource off by default, and kettle needs it.)
using Kettle;

Console.WriteLine($"PID {Environment.ProcessId}: try `kettle pstree {Environment.ProcessId}`; Ctrl+C to stop");
AioTask alice = null!, bob = null!;
// Ctrl+C ends the process outright: cancelling a task inside an await cycle recurses around the cycle (each task
// cancels the one it awaits), which Kettle does not guard against yet.
Aio.Run(Main(), new RunOptions { HandleCtrlC = false });

async Coroutine WaitFor(Func<AioTask> other)
{
    await Aio.Yield(); // both exist by now
    await other();
}

async Coroutine Main()
{
    alice = Aio.CreateTask(WaitFor(() => bob), name: "Alice");
    bob = Aio.CreateTask(WaitFor(() => alice), name: "Bob");
    await alice;
}
