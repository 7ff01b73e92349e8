// Programs for the kettle tool's tests to look at. Each prints "ready PID" once its tasks are in place, then runs
// until killed (or, for "plain", until its standard input closes).
//   album     asyncio's ps/pstree documentation example: a TaskGroup of two albums, each a TaskGroup of tracks
//   deadlock  two named tasks that await each other (Ctrl+C cancels them and prints how they ended)
//   blocked   a task whose step blocks the loop thread (debug mode: steps timed; blocked-nodebug: not)
//   many      600 named tasks in a TaskGroup: a snapshot that takes many events
//   plain     a .NET program that never uses Kettle
//   vanish    no Kettle loop; a stand-in "Kettle" event source that sends half an answer and exits the process
using System.Diagnostics.Tracing;
using Kettle;

switch (args.Length > 0 ? args[0] : "")
{
    case "album":
        Aio.Run(Album.Run());
        break;
    case "deadlock":
        Aio.Run(Deadlock.Run());
        break;
    case "blocked":
        Aio.Run(Blocked.Run(), new RunOptions { Debug = true, SlowCallbackDuration = TimeSpan.FromSeconds(3600) });
        break;
    case "many":
        Aio.Run(Many.Run());
        break;
    case "blocked-nodebug":
        Aio.Run(Blocked.Run(), new RunOptions { Debug = false });
        break;
    case "plain":
        Target.Ready();
        Console.In.ReadToEnd();
        break;
    case "vanish":
        GC.KeepAlive(VanishingSource.Log);
        Target.Ready();
        Thread.Sleep(Timeout.Infinite);
        break;
    default:
        Console.Error.WriteLine("usage: Kettle.Tool.TestTarget album|deadlock|many|blocked|blocked-nodebug|plain|vanish");
        return 2;
}
return 0;

internal static class Target
{
    public static void Ready()
    {
        Console.WriteLine($"ready {Environment.ProcessId}");
        Console.Out.Flush();
    }
}

internal static class Album
{
    private static async Coroutine Play(string track)
    {
        while (true)
        {
            await Aio.Sleep(3600);
        }
    }

    private static async Coroutine Record(string album, string[] tracks)
    {
        await TaskGroup.Run(async tg =>
        {
            foreach (var t in tracks)
            {
                _ = tg.CreateTask(Play(t), name: t);
            }
        });
    }

    public static async Coroutine Run()
    {
        await TaskGroup.Run(async tg =>
        {
            _ = tg.CreateTask(Record("Sundowning", ["TNDNBTG", "Levitate"]), name: "Sundowning");
            _ = tg.CreateTask(Record("TMBTE", ["DYWTYLM", "Aqua Regia"]), name: "TMBTE");
            _ = tg.CreateTask(Announce());
        });
    }

    private static async Coroutine Announce()
    {
        await Aio.Sleep(0.05); // the albums and their tracks are started by now
        Target.Ready();
    }
}

internal static class Deadlock
{
    private static AioTask? a, b;

    private static async Coroutine WaitForB()
    {
        await Aio.Yield();
        await b!;
    }

    private static async Coroutine WaitForA()
    {
        await Aio.Yield();
        await a!;
    }

    public static async Coroutine Run()
    {
        a = Aio.CreateTask(WaitForB(), name: "Alice");
        b = Aio.CreateTask(WaitForA(), name: "Bob");
        await Aio.Sleep(0.05);
        Target.Ready();
        try
        {
            await a;
        }
        catch (CancelledException)
        {
            // Ctrl+C cancels this task, and through it the pair: the cancel goes round their cycle once.
            Console.WriteLine($"stopped: Alice {(a.IsCancelled ? "cancelled" : "not cancelled")}, Bob {(b!.IsCancelled ? "cancelled" : "not cancelled")}");
            throw;
        }
    }
}

internal static class Many
{
    public const int Count = 600;

    private static async Coroutine Work()
    {
        await Aio.Sleep(3600);
    }

    public static async Coroutine Run()
    {
        await TaskGroup.Run(async tg =>
        {
            for (int i = 0; i < Count; i++)
            {
                _ = tg.CreateTask(Work(), name: $"worker-{i:000}");
            }
            await Aio.Sleep(0.05);
            Target.Ready();
        });
    }
}

internal static class Blocked
{
    private static async Coroutine Hog()
    {
        await Aio.Sleep(0.05);
        Target.Ready();
        Thread.Sleep(Timeout.Infinite); // holds the loop thread: only another thread can still answer
    }

    private static async Coroutine Idle()
    {
        await Aio.Sleep(3600);
    }

    public static async Coroutine Run()
    {
        var idle = Aio.CreateTask(Idle(), name: "idle");
        await Aio.CreateTask(Hog(), name: "hog");
        await idle;
    }
}

/// <summary>Answers a kettle request with the first of two chunks, then ends the process: "exits mid-read".</summary>
[EventSource(Name = "Kettle")]
internal sealed class VanishingSource : EventSource
{
    public static readonly VanishingSource Log = new();

    public static class Keywords
    {
        public const EventKeywords Snapshot = (EventKeywords)1;
    }

    [Event(1, Level = EventLevel.Informational, Keywords = Keywords.Snapshot, Version = 1)]
    public void Snapshot(string request, int chunk, int chunkCount, string json) => WriteEvent(1, request, chunk, chunkCount, json);

    protected override void OnEventCommand(EventCommandEventArgs command)
    {
        if (command.Command == EventCommand.Enable && command.Arguments is { } a && a.TryGetValue("kettle.request", out var request) && request is not null)
        {
            new Thread(() =>
            {
                Snapshot(request, 0, 2, "{\"version\": 1, ");
                Environment.Exit(3);
            }).Start();
        }
    }
}

