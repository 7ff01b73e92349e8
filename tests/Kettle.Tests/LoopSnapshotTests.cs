using System.Text.Json;

namespace Kettle.Tests;

/// <summary>
/// The snapshot the "Kettle" event source sends to the kettle tool: schema version 1, taken from a thread that is not
/// the loop's while the loop runs. Other tests' loops may be running too, so each test picks its own loop by number.
/// </summary>
public class LoopSnapshotTests
{
    // Schema v1: every object's fields and their JSON kinds. Adding a field means adding it here (and to
    // docs/debugging.md); removing or retyping one means a new version.
    private static readonly Dictionary<string, JsonValueKind[]> Document = new()
    {
        ["version"] = [JsonValueKind.Number],
        ["pid"] = [JsonValueKind.Number],
        ["process"] = [JsonValueKind.String],
        ["takenAt"] = [JsonValueKind.String],
        ["introspection"] = [JsonValueKind.True, JsonValueKind.False],
        ["loops"] = [JsonValueKind.Array],
    };

    private static readonly Dictionary<string, JsonValueKind[]> Loop = new()
    {
        ["loop"] = [JsonValueKind.Number],
        ["threadId"] = [JsonValueKind.Number],
        ["managedThreadId"] = [JsonValueKind.Number],
        ["debug"] = [JsonValueKind.True, JsonValueKind.False],
        ["iterations"] = [JsonValueKind.Number],
        ["readyQueue"] = [JsonValueKind.Number],
        ["timers"] = [JsonValueKind.Number],
        ["liveTasks"] = [JsonValueKind.Number],
        ["consistent"] = [JsonValueKind.True, JsonValueKind.False],
        ["lagSeconds"] = [JsonValueKind.Number],
        ["running"] = [JsonValueKind.Object, JsonValueKind.Null],
        ["slowSteps"] = [JsonValueKind.Array],
        ["tasks"] = [JsonValueKind.Array],
    };

    private static readonly Dictionary<string, JsonValueKind[]> Task = new()
    {
        ["id"] = [JsonValueKind.Number],
        ["name"] = [JsonValueKind.String],
        ["state"] = [JsonValueKind.String],
        ["waitingSeconds"] = [JsonValueKind.Number, JsonValueKind.Null],
        ["changing"] = [JsonValueKind.True, JsonValueKind.False],
        ["frames"] = [JsonValueKind.Array],
        ["awaitedBy"] = [JsonValueKind.Array],
    };

    private static readonly Dictionary<string, JsonValueKind[]> Frame = new()
    {
        ["name"] = [JsonValueKind.String],
        ["file"] = [JsonValueKind.String],
        ["line"] = [JsonValueKind.Number],
    };

    private static readonly Dictionary<string, JsonValueKind[]> Running = new()
    {
        ["taskId"] = [JsonValueKind.Number, JsonValueKind.Null],
        ["taskName"] = [JsonValueKind.String, JsonValueKind.Null],
        ["frame"] = [JsonValueKind.String, JsonValueKind.Null],
        ["forSeconds"] = [JsonValueKind.Number],
        ["timing"] = [JsonValueKind.String],
    };

    private static readonly Dictionary<string, JsonValueKind[]> SlowStep = new()
    {
        ["what"] = [JsonValueKind.String],
        ["frame"] = [JsonValueKind.String, JsonValueKind.Null],
        ["seconds"] = [JsonValueKind.Number],
        ["agoSeconds"] = [JsonValueKind.Number],
    };

    private static void CheckSchema(JsonElement e, Dictionary<string, JsonValueKind[]> schema, string what)
    {
        Assert.Equal(schema.Keys.Order(StringComparer.Ordinal), e.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        foreach (var p in e.EnumerateObject())
        {
            Assert.True(schema[p.Name].Contains(p.Value.ValueKind), $"{what}.{p.Name} is {p.Value.ValueKind}");
        }
    }

    private static void CheckDocument(JsonElement doc)
    {
        CheckSchema(doc, Document, "document");
        Assert.Equal(LoopSnapshot.Version, doc.GetProperty("version").GetInt32());
        foreach (var loop in doc.GetProperty("loops").EnumerateArray())
        {
            CheckSchema(loop, Loop, "loop");
            if (loop.GetProperty("running").ValueKind == JsonValueKind.Object)
            {
                CheckSchema(loop.GetProperty("running"), Running, "running");
            }
            foreach (var s in loop.GetProperty("slowSteps").EnumerateArray())
            {
                CheckSchema(s, SlowStep, "slowStep");
            }
            foreach (var t in loop.GetProperty("tasks").EnumerateArray())
            {
                CheckSchema(t, Task, "task");
                foreach (var f in t.GetProperty("frames").EnumerateArray())
                {
                    CheckSchema(f, Frame, "frame");
                }
            }
        }
    }

    private static JsonElement LoopOf(JsonDocument doc, int number) =>
        doc.RootElement.GetProperty("loops").EnumerateArray().Single(l => l.GetProperty("loop").GetInt32() == number);

    [Fact]
    public void Take_FromAnotherThreadWhileTasksWait_MatchesSchemaV1AndNamesAwaiters()
    {
        string json = "";
        int number = 0;
        HangGuard.Run(() => Aio.Run(Main(), new RunOptions { HandleCtrlC = false, Debug = true }));

        using var doc = JsonDocument.Parse(json);
        CheckDocument(doc.RootElement);
        Assert.True(doc.RootElement.GetProperty("introspection").GetBoolean());
        var loop = LoopOf(doc, number);
        Assert.True(loop.GetProperty("debug").GetBoolean());
        var tasks = loop.GetProperty("tasks").EnumerateArray().ToDictionary(t => t.GetProperty("name").GetString()!);
        var waiter = tasks["waiter"];
        Assert.Equal("waiting", waiter.GetProperty("state").GetString());
        Assert.Equal("LoopSnapshotTests.Waiter", waiter.GetProperty("frames")[0].GetProperty("name").GetString());
        Assert.EndsWith("LoopSnapshotTests.cs", waiter.GetProperty("frames")[0].GetProperty("file").GetString(), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Number, waiter.GetProperty("waitingSeconds").ValueKind); // debug mode times waits
        var awaiter = tasks["awaiter"];
        Assert.Equal([tasks["awaiter"].GetProperty("id").GetInt64()], waiter.GetProperty("awaitedBy").EnumerateArray().Select(a => a.GetInt64()));
        Assert.Equal("waiting", tasks["main"].GetProperty("state").GetString()); // on Aio.ToThread's task, a Kettle wait
        Assert.Empty(awaiter.GetProperty("awaitedBy").EnumerateArray());

        async Coroutine Main()
        {
            Aio.CurrentTask!.Name = "main";
            number = Aio.CurrentTask.Loop.Number;
            var go = new AioEvent();
            var waiterTask = Aio.CreateTask(Waiter(go), "waiter");
            var awaiterTask = Aio.CreateTask(Awaiter(waiterTask), "awaiter");
            await Aio.Sleep(0);
            await Aio.Sleep(0);
            json = await Aio.ToThread(() => TakeOnceSettled(number));
            go.Set();
            await awaiterTask;
        }
    }

    // The worker thread can start before the step that submitted it has ended: read again until main is suspended
    // (bounded by a count, a guard against a hang rather than a timing assertion).
    private static string TakeOnceSettled(int number)
    {
        string json = LoopSnapshot.Take();
        for (int i = 0; i < 2000; i++)
        {
            using var doc = JsonDocument.Parse(json);
            bool mainRunning = LoopOf(doc, number).GetProperty("tasks").EnumerateArray()
                .Any(t => t.GetProperty("name").GetString() == "main" && t.GetProperty("state").GetString() == "running");
            if (!mainRunning)
            {
                break;
            }
            Thread.Sleep(5);
            json = LoopSnapshot.Take();
        }
        return json;
    }

    private static async Coroutine Waiter(AioEvent go) => await go.Wait();

    private static async Coroutine Awaiter(AioTask t) => await t;

    [Fact]
    public void Take_WhileTheLoopChurnsTasks_NeverFailsAndStaysWellFormed()
    {
        // The loop creates and finishes tasks as fast as it can while another thread reads it: reads race with every
        // change on purpose. Bounded by a number of snapshots, not by time.
        var snapshots = new List<string>();
        int number = 0;
        HangGuard.Run(() => Aio.Run(Main(), new RunOptions { HandleCtrlC = false }));

        Assert.Equal(100, snapshots.Count);
        foreach (var json in snapshots)
        {
            using var doc = JsonDocument.Parse(json);
            CheckDocument(doc.RootElement);
            Assert.False(doc.RootElement.TryGetProperty("error", out _));
            LoopOf(doc, number);
        }

        async Coroutine Main()
        {
            number = Aio.CurrentTask!.Loop.Number;
            bool stop = false;
            var reader = Aio.ToThread(() =>
            {
                for (int i = 0; i < 100; i++)
                {
                    snapshots.Add(LoopSnapshot.Take());
                }
                Volatile.Write(ref stop, true);
                return 0;
            });
            while (!Volatile.Read(ref stop))
            {
                await TaskGroup.Run(async tg =>
                {
                    for (int i = 0; i < 20; i++)
                    {
                        _ = tg.CreateTask(Churn(i), $"churn-{i}");
                    }
                });
            }
            await reader;
        }
    }

    private static async Coroutine Churn(int i)
    {
        for (int k = 0; k < 3; k++)
        {
            await Nested(i + k);
        }
    }

    private static async Coroutine Nested(int n)
    {
        if (n % 2 == 0)
        {
            await Aio.Yield();
        }
        else
        {
            await Aio.Gather(Pause(), Pause());
        }
    }

    private static async Coroutine<int> Pause()
    {
        await Aio.Sleep(0);
        return 0;
    }

    [Fact]
    public void Refusal_SaysIntrospectionIsOffAndReadsNoLoop()
    {
        using var doc = JsonDocument.Parse(LoopSnapshot.Refusal());

        CheckDocument(doc.RootElement);
        Assert.False(doc.RootElement.GetProperty("introspection").GetBoolean());
        Assert.Empty(doc.RootElement.GetProperty("loops").EnumerateArray());
    }

    [Fact]
    public void EventSource_IsNamedKettle()
    {
        Assert.Equal("Kettle", KettleEventSource.Log.Name);
    }
}
