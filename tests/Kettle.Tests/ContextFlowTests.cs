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
}
