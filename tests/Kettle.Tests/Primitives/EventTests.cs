using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class EventTests
{
    private static async Coroutine WaitAndLog(AioEvent e, List<string> log, string name)
    {
        await e.Wait();
        log.Add(name);
    }

    [Fact]
    public void Wait_WhenSet_CompletesWithoutSuspending() => Run(async () =>
    {
        var e = new AioEvent();
        Assert.False(e.Wait().IsCompleted);
        e.Set();
        Assert.True(e.IsSet);
        var w = e.Wait();
        Assert.True(w.IsCompleted);
        await w;
    });

    [Fact]
    public void Set_SeveralWaiters_WakesAllInWaitOrder() => Run(async () =>
    {
        var e = new AioEvent();
        var log = new List<string>();
        var tasks = new[] { "a", "b", "c" }.Select(n => Aio.CreateTask(WaitAndLog(e, log, n))).ToList();
        await Aio.Yield();
        Assert.Empty(log);
        e.Set();
        foreach (var t in tasks)
        {
            await t;
        }
        Assert.Equal(["a", "b", "c"], log);
    });

    [Fact]
    public void Clear_RightAfterSet_WokenWaitersStillReturn() => Run(async () =>
    {
        // asyncio test_clear_with_waiters.
        var e = new AioEvent();
        var log = new List<string>();
        var t = Aio.CreateTask(WaitAndLog(e, log, "a"));
        await Aio.Yield();
        e.Set();
        e.Clear();
        Assert.False(e.IsSet);
        await t;
        Assert.Equal(["a"], log);
    });

    [Fact]
    public void Clear_ThenWait_WaitsForTheNextSet() => Run(async () =>
    {
        var e = new AioEvent();
        e.Set();
        e.Clear();
        var log = new List<string>();
        var t = Aio.CreateTask(WaitAndLog(e, log, "a"));
        await Yields(2);
        Assert.Empty(log);
        e.Set();
        await t;
        Assert.Equal(["a"], log);
    });

    [Fact]
    public void Wait_Cancelled_ThrowsCancelledAndLeavesNoWaiter() => Run(async () =>
    {
        var e = new AioEvent();
        var log = new List<string>();
        var a = Aio.CreateTask(WaitAndLog(e, log, "a"));
        var b = Aio.CreateTask(WaitAndLog(e, log, "b"));
        await Aio.Yield();
        a.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await a);
        Assert.Equal("<Event [unset, waiters:1]>", e.ToString());
        e.Set();
        await b;
        Assert.Equal(["b"], log);
        Assert.Equal("<Event [set]>", e.ToString());
    });

    [Fact]
    public void Wait_CancelledAfterSet_ThrowsCancelled() => Run(async () =>
    {
        var e = new AioEvent();
        var a = Aio.CreateTask(WaitAndLog(e, [], "a"));
        await Aio.Yield();
        e.Set();
        a.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await a);
    });

    [Fact]
    public void Set_FromAnotherThreadWhileTheLoopRuns_ThrowsInvalidOperation() => Run(async () =>
    {
        var e = new AioEvent();
        Assert.False(e.IsSet);
        Assert.IsType<InvalidOperationException>(FromOtherThread(e.Set));
        Assert.False(e.IsSet);
        await Aio.Yield();
    });
}
