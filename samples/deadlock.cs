#:project ../src/Kettle/Kettle.csproj
#:property EventSourceSupport=true
// Two named tasks that await each other: nothing ever finishes. `kettle pstree PID` refuses to draw a tree and
// reports the cycle on standard error (exit status 1), as asyncio's pstree does:
//   ERROR: await-graph contains cycles - cannot print a tree!
//
//   cycle: Bob → Alice → Bob
// `kettle ps PID` still lists both. Runs until stopped: Ctrl+C cancels Main, and through it the pair (the cancel
// goes round their cycle once; asyncio would recurse until RecursionError), then the process exits with code 130.
// (#:property EventSourceSupport=true: file-based apps switch EventSource off by default, and kettle needs it.)
using Kettle;

Console.WriteLine($"PID {Environment.ProcessId}: try `kettle pstree {Environment.ProcessId}`; Ctrl+C to stop");
AioTask alice = null!, bob = null!;
Aio.Run(Main());

async Coroutine WaitFor(Func<AioTask> other)
{
    await Aio.Yield(); // both exist by now
    await other();
}

async Coroutine Main()
{
    alice = Aio.CreateTask(WaitFor(() => bob), name: "Alice");
    bob = Aio.CreateTask(WaitFor(() => alice), name: "Bob");
    try
    {
        await alice;
    }
    catch (CancelledException)
    {
        Console.WriteLine($"Ctrl+C: Alice {(alice.IsCancelled ? "cancelled" : "running")}, Bob {(bob.IsCancelled ? "cancelled" : "running")}");
        throw;
    }
}
