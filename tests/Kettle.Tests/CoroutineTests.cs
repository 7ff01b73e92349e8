namespace Kettle.Tests;

public class CoroutineTests
{
    private sealed class Counter
    {
        public int Value;
    }

    private static async Coroutine<int> Increment(Counter c)
    {
        c.Value++;
        await Aio.Yield();
        return c.Value;
    }

    [Fact]
    public void Coroutine_Called_RunsNothingUntilAwaited()
    {
        static async Coroutine<(int BeforeAwait, int Result, int After)> Main()
        {
            var c = new Counter();
            var coro = Increment(c);
            int before = c.Value;
            await Aio.Yield();
            await Aio.Sleep(5);
            int stillBefore = c.Value;
            int result = await coro;
            return (before + stillBefore, result, c.Value);
        }

        var (before, result, after) = Virtual.Run(Main());

        Assert.Equal(0, before);
        Assert.Equal(1, result);
        Assert.Equal(1, after);
    }

    [Fact]
    public void Coroutine_Awaited_RunsInsideCallersTask()
    {
        static async Coroutine<AioTask?> Inner()
        {
            var before = Aio.CurrentTask;
            await Aio.Sleep(1);
            Assert.Same(before, Aio.CurrentTask);
            return Aio.CurrentTask;
        }

        static async Coroutine<(AioTask? Outer, AioTask? Inner, int TaskCount)> Main()
        {
            var outer = Aio.CurrentTask;
            var inner = await Inner();
            return (outer, inner, Aio.AllTasks().Count);
        }

        var (outer, inner, count) = Virtual.Run(Main());

        Assert.NotNull(outer);
        Assert.Same(outer, inner);
        Assert.Equal(1, count);
    }

    [Fact]
    public void Coroutine_AwaitedTwice_SecondAwaitThrows()
    {
        static async Coroutine<(int First, Exception? Second)> Main()
        {
            var coro = Co.Return(5);
            int first = await coro;
            Exception? second = null;
            try
            {
                await coro;
            }
            catch (Exception ex)
            {
                second = ex;
            }
            return (first, second);
        }

        var (first, second) = Virtual.Run(Main());

        Assert.Equal(5, first);
        var ex = Assert.IsType<InvalidOperationException>(second);
        Assert.Contains("runs once", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Coroutine_ScheduledThenAwaited_AwaitThrows()
    {
        static async Coroutine<Exception?> Main()
        {
            var coro = Co.Return(5);
            var task = Aio.CreateTask(coro);
            Exception? error = null;
            try
            {
                await coro;
            }
            catch (InvalidOperationException ex)
            {
                error = ex;
            }
            Assert.Equal(5, await task);
            Assert.Throws<InvalidOperationException>(() => Aio.CreateTask(coro));
            return error;
        }

        Assert.IsType<InvalidOperationException>(Virtual.Run(Main()));
    }

    [Fact]
    public void DefaultCoroutine_Awaited_Throws()
    {
        static async Coroutine<(Exception? Typed, Exception? Untyped)> Main()
        {
            Exception? typed = null, untyped = null;
            try
            {
                await default(Coroutine<int>);
            }
            catch (InvalidOperationException ex)
            {
                typed = ex;
            }
            try
            {
                await default(Coroutine);
            }
            catch (InvalidOperationException ex)
            {
                untyped = ex;
            }
            Assert.Throws<InvalidOperationException>(() => Aio.CreateTask(default(Coroutine<int>)));
            return (typed, untyped);
        }

        var (typed, untyped) = Virtual.Run(Main());

        Assert.NotNull(typed);
        Assert.NotNull(untyped);
    }

    [Fact]
    public void Coroutine_Throws_CallerCatchesOriginalType()
    {
        static async Coroutine<int> ThrowsBeforeAwait() => throw new TestException("sync");

        static async Coroutine<int> ThrowsAfterAwait()
        {
            await Aio.Sleep(1);
            throw new TestException("async");
        }

        static async Coroutine<List<string>> Main()
        {
            var caught = new List<string>();
            var coro = ThrowsBeforeAwait(); // cold: calling it throws nothing
            caught.Add("called");
            try
            {
                await coro;
            }
            catch (TestException ex)
            {
                caught.Add(ex.Message);
            }
            try
            {
                await ThrowsAfterAwait();
            }
            catch (TestException ex)
            {
                caught.Add(ex.Message);
            }
            return caught;
        }

        Assert.Equal(["called", "sync", "async"], Virtual.Run(Main()));
    }

    [Fact]
    public void Coroutine_ExceptionPassesThroughNestedAwaits_StackTraceKeepsThrower()
    {
        static async Coroutine Level3()
        {
            await Aio.Yield();
            throw new TestException("deep");
        }

        static async Coroutine Level2() => await Level3();

        static async Coroutine<Exception?> Main()
        {
            try
            {
                await Level2();
                return null;
            }
            catch (TestException ex)
            {
                return ex;
            }
        }

        var ex = Virtual.Run(Main());

        Assert.NotNull(ex);
        Assert.Contains("Level3", ex!.StackTrace, StringComparison.Ordinal);
    }

    private static async Coroutine<int> Depth(int n) => n == 0 ? 0 : await Depth(n - 1) + 1;

    private static async Coroutine<int> DepthYieldAtBottom(int n)
    {
        if (n == 0)
        {
            await Aio.Yield();
            return 0;
        }
        return await DepthYieldAtBottom(n - 1) + 1;
    }

    [Fact]
    public void Coroutine_TenThousandLevelsCompletingSynchronously_ReturnsDepth()
    {
        Assert.Equal(10_000, Virtual.Run(Depth(10_000)));
    }

    [Fact]
    public void Coroutine_TenThousandLevelsSuspendingAtBottom_ReturnsDepth()
    {
        Assert.Equal(10_000, Virtual.Run(DepthYieldAtBottom(10_000)));
    }

    [Fact]
    public void Coroutine_AwaitedOutsideLoop_Throws()
    {
        var coro = Co.Return(1);
        var error = Record.Exception(() => coro.GetAwaiter());

        Assert.IsType<InvalidOperationException>(error);
    }

    [Fact]
    public void Coroutine_ToString_NamesMethod()
    {
        static async Coroutine<string> Main()
        {
            var coro = Co.Return(3);
            var text = coro.ToString();
            await coro;
            return text;
        }

        Assert.Contains("Return", Virtual.Run(Main()), StringComparison.Ordinal);
        Assert.Contains("default", default(Coroutine).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Coroutine_VoidAndValue_BothComplete()
    {
        static async Coroutine<string> Main()
        {
            await Co.Sleep(2);
            var s = await Co.Return("done", 1);
            return $"{s}@{Aio.GetRunningLoop().Time}";
        }

        Assert.Equal("done@3", Virtual.Run(Main()));
    }
}
