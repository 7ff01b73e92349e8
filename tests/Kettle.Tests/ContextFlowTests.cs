namespace Kettle.Tests;

public class ContextFlowTests
{
    private static readonly AsyncLocal<string?> Value = new();

    [Fact]
    public void AsyncLocal_SetBeforeCreateTask_ChildSeesCopyTakenAtCreation()
    {
        static async Coroutine<string?> Read()
        {
            await Aio.Yield();
            return Value.Value;
        }

        static async Coroutine<(string?, string?)> Main()
        {
            Value.Value = "before";
            var t = Aio.CreateTask(Read());
            Value.Value = "after";
            var early = await t;
            var late = await Aio.CreateTask(Read());
            return (early, late);
        }

        Assert.Equal(("before", "after"), Virtual.Run(Main()));
    }

    [Fact]
    public void AsyncLocal_ChangedInsideTask_DoesNotLeakToCreator()
    {
        static async Coroutine Change()
        {
            Value.Value = "child";
            await Aio.Yield();
            Value.Value = "child again";
        }

        static async Coroutine<string?> Main()
        {
            Value.Value = "parent";
            await Aio.CreateTask(Change());
            return Value.Value;
        }

        Assert.Equal("parent", Virtual.Run(Main()));
    }

    [Fact]
    public void AsyncLocal_ChangedByAwaitedCoroutine_DoesNotLeakToCaller()
    {
        static async Coroutine<string?> ChangeSync()
        {
            Value.Value = "inner sync";
            return Value.Value;
        }

        static async Coroutine<string?> ChangeAsync()
        {
            Value.Value = "inner async";
            await Aio.Sleep(1);
            return Value.Value;
        }

        static async Coroutine<string?[]> Main()
        {
            Value.Value = "outer";
            var a = await ChangeSync();
            var afterSync = Value.Value;
            var b = await ChangeAsync();
            var afterAsync = Value.Value;
            return [a, afterSync, b, afterAsync];
        }

        Assert.Equal(new string?[] { "inner sync", "outer", "inner async", "outer" }, Virtual.Run(Main()));
    }

    [Fact]
    public void AsyncLocal_AcrossKettleAndForeignAwaits_Survives()
    {
        static async Coroutine<string?[]> Main()
        {
            Value.Value = "kept";
            var seen = new List<string?>();
            await Aio.Sleep(1);
            seen.Add(Value.Value);
            await Aio.Yield();
            seen.Add(Value.Value);
            await Task.Delay(1);
            seen.Add(Value.Value);
            await Task.Run(() => Thread.Yield()).ConfigureAwait(false);
            seen.Add(Value.Value);
            await Aio.CreateTask(Co.Sleep(1));
            seen.Add(Value.Value);
            return seen.ToArray();
        }

        string?[] seen = [];
        HangGuard.Run(() => seen = Virtual.Run(Main()));

        Assert.Equal(new string?[] { "kept", "kept", "kept", "kept", "kept" }, seen);
    }

    [Fact]
    public void AsyncLocal_TasksInterleaved_EachKeepsItsOwnValue()
    {
        static async Coroutine<string> Worker(string name)
        {
            Value.Value = name;
            for (int i = 0; i < 3; i++)
            {
                await Aio.Yield();
                if (Value.Value != name)
                {
                    return $"{name} saw {Value.Value}";
                }
            }
            return name;
        }

        static async Coroutine<string[]> Main()
        {
            var a = Aio.CreateTask(Worker("a"));
            var b = Aio.CreateTask(Worker("b"));
            return [await a, await b, Value.Value ?? "null"];
        }

        Assert.Equal(["a", "b", "null"], Virtual.Run(Main()));
    }

    [Fact]
    public void AsyncLocal_PlainAsyncTask_SeesCreatorsValue()
    {
        static async Coroutine<string?> Main()
        {
            Value.Value = "creator";
            return await Aio.CreateTask(async () =>
            {
                await Task.Yield();
                return Value.Value;
            });
        }

        string? seen = null;
        HangGuard.Run(() => seen = Virtual.Run(Main()));

        Assert.Equal("creator", seen);
    }

    // Between steps the loop runs in its own context: what a task's step set never shows in a callback, however the
    // step ended (a loop-native suspension, which spares the end of the step a second capture; an inline coroutine
    // that suspended under a plain async method; a foreign await; the task finishing).
    [Fact]
    public void AsyncLocal_SetInAStep_NeverSeenByCallbacksBetweenSteps()
    {
        static async Coroutine Inner()
        {
            Value.Value = "inner";
            await Aio.Sleep(1);
        }

        static async Coroutine<int> QueueWait(AioQueue<int> queue, Action<string> probe)
        {
            Value.Value = "getter";
            probe("after a queue wait");
            return await queue.Get();
        }

        static async Coroutine<string?> ForeignAwait(Action<string> probe)
        {
            Value.Value = "foreign";
            probe("after a foreign await");
            await Task.Yield();
            return Value.Value;
        }

        static async Coroutine<string?> Finish(Action<string> probe)
        {
            Value.Value = "finisher";
            probe("after a task finished");
            return Value.Value;
        }

        static async Coroutine<List<string>> Main()
        {
            var loop = Aio.GetRunningLoop();
            var seen = new List<string>();
            void Probe(string when) => loop.CallSoon(() => seen.Add($"{when}: {Value.Value ?? "base"}"));
            var queue = new AioQueue<int>();

            // 1. A loop-native suspension (a queue get) ends the step.
            var getter = Aio.CreateTask(QueueWait(queue, Probe));
            // 2. A coroutine that suspends loop-natively, awaited by a plain async method run as a task.
            var plain = Aio.CreateTask(async () =>
            {
                Value.Value = "plain";
                Probe("after an inline coroutine under plain async");
                await Inner();
                return Value.Value;
            });
            // 3. A foreign await.
            var foreign = Aio.CreateTask(ForeignAwait(Probe));
            // 4. The task finishes in its first step.
            var finisher = Aio.CreateTask(Finish(Probe));
            await Aio.Sleep(0.5);
            queue.PutNowait(7);
            Assert.Equal(7, await getter);
            Assert.Equal("plain", await plain);
            Assert.Equal("foreign", await foreign);
            Assert.Equal("finisher", await finisher);
            Probe("at the end");
            await Aio.Yield();
            return seen;
        }

        List<string> seen = [];
        HangGuard.Run(() => seen = Virtual.Run(Main()));

        Assert.Equal(
            [
                "after a queue wait: base",
                "after an inline coroutine under plain async: base",
                "after a foreign await: base",
                "after a task finished: base",
                "at the end: base",
            ],
            seen);
    }
}
