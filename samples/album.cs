#:project ../src/Kettle/Kettle.csproj
#:property EventSourceSupport=true
// asyncio's ps/pstree documentation example in C#: a main task with a TaskGroup of two albums, each album a TaskGroup
// of named tracks. It prints its PID and plays until stopped (Ctrl+C). In another shell:
//   kettle ps PID        one row per (task, awaiter)
//   kettle pstree PID    the await tree
//   kettle top PID       a live view
// (#:property EventSourceSupport=true: file-based apps switch EventSource off by default, and kettle needs it.)
using Kettle;

Console.WriteLine($"PID {Environment.ProcessId}: try `kettle ps {Environment.ProcessId}` or `kettle pstree {Environment.ProcessId}`; Ctrl+C to stop");
try
{
    Aio.Run(Main());
}
catch (CancelledException)
{
    Console.WriteLine("stopped");
}

static async Coroutine Play(string track)
{
    while (true)
    {
        await Aio.Sleep(3600); // a long track
    }
}

static async Coroutine Album(string name, string[] tracks)
{
    await TaskGroup.Run(async tg =>
    {
        foreach (var track in tracks)
        {
            _ = tg.CreateTask(Play(track), name: track);
        }
    });
}

static async Coroutine Main()
{
    await TaskGroup.Run(async tg =>
    {
        _ = tg.CreateTask(Album("Sundowning", ["TNDNBTG", "Levitate"]), name: "Sundowning");
        _ = tg.CreateTask(Album("TMBTE", ["DYWTYLM", "Aqua Regia"]), name: "TMBTE");
    });
}
