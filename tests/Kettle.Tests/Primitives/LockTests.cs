using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class LockTests
{
    private static async Coroutine HoldUntil(AioLock l, AioEvent release, List<string> log, string name)
    {
        await l.Acquire();
        log.Add(name);
        try
        {
            await release.Wait();
        }
        finally
        {
            l.Release();
        }
    }

    private static async Coroutine AcquireRelease(AioLock l, List<string> log, string name)
    {
        using (await l.Acquire())
        {
            log.Add(name);
        }
    }

    [Fact]
    public void Acquire_WhenFree_CompletesWithoutSuspending() => Run(async () =>
    {
        var l = new AioLock();
        var a = l.Acquire();
        Assert.True(a.IsCompleted);
        await a;
        Assert.True(l.IsLocked);
        l.Release();
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Acquire_WhenHeld_WaitsUntilRelease() => Run(async () =>
    {
        var l = new AioLock();
        var log = new List<string>();
        await l.Acquire();
        var t = Aio.CreateTask(AcquireRelease(l, log, "b"));
        await Yields(3);
        Assert.Empty(log);
        Assert.False(t.IsDone);
        l.Release();
        await t;
        Assert.Equal(["b"], log);
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Acquire_SeveralWaiters_GrantedInFifoOrder() => Run(async () =>
    {
        var l = new AioLock();
        var log = new List<string>();
        await l.Acquire();
        var tasks = new List<AioTask>();
        foreach (var name in new[] { "a", "b", "c", "d" })
        {
            tasks.Add(Aio.CreateTask(AcquireRelease(l, log, name)));
            await Aio.Yield();
        }
        l.Release();
        foreach (var t in tasks)
        {
            await t;
        }
        Assert.Equal(["a", "b", "c", "d"], log);
    });

    [Fact]
    public void Acquire_WhileWokenWaiterHasNotResumed_NewcomerDoesNotBarge() => Run(async () =>
    {
        var l = new AioLock();
        var log = new List<string>();
        await l.Acquire();
        var waiter = Aio.CreateTask(AcquireRelease(l, log, "waiter"));
        await Aio.Yield();
        l.Release();
        // The lock is free but promised to the woken waiter: a newcomer must queue.
        Assert.False(l.IsLocked);
        var newcomer = l.Acquire();
        Assert.False(newcomer.IsCompleted);
        await newcomer;
        log.Add("newcomer");
        l.Release();
        await waiter;
        Assert.Equal(["waiter", "newcomer"], log);
    });

    [Fact]
    public void Release_WhenNotHeld_ThrowsInvalidOperation() => Run(async () =>
    {
        var l = new AioLock();
        var ex = Assert.Throws<InvalidOperationException>(l.Release);
        Assert.Equal("Lock is not acquired.", ex.Message);
        await Aio.Yield();
    });

    [Fact]
    public void Acquire_CancelledWhileQueued_LeavesTheLineAndOthersProceed() => Run(async () =>
    {
        var l = new AioLock();
        var log = new List<string>();
        await l.Acquire();
        var b = Aio.CreateTask(AcquireRelease(l, log, "b"));
        var c = Aio.CreateTask(AcquireRelease(l, log, "c"));
        await Aio.Yield();
        b.Cancel();
        await Aio.Yield();
        Assert.True(b.IsCancelled);
        Assert.Contains("waiters:1", l.ToString(), StringComparison.Ordinal);
        l.Release();
        await c;
        Assert.Equal(["c"], log);
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Acquire_CancelledRightAfterBeingWoken_PassesTheLockToTheNextWaiter() => Run(async () =>
    {
        var l = new AioLock();
        var log = new List<string>();
        await l.Acquire();
        var b = Aio.CreateTask(AcquireRelease(l, log, "b"));
        var c = Aio.CreateTask(AcquireRelease(l, log, "c"));
        await Aio.Yield();
        l.Release();   // wakes b
        b.Cancel();    // b was granted the wake-up: it must hand it on
        await Assert.ThrowsAsync<CancelledException>(async () => await b);
        await c;
        Assert.Equal(["c"], log);
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Acquire_HeadWaiterCancelledAsLockIsReleased_NextWaiterGetsTheLock() => Run(async () =>
    {
        // asyncio test_cancel_race: A holds, B and C wait; A releases while B is cancelled.
        var l = new AioLock();
        var log = new List<string>();
        var blocker = new AioEvent();
        var a = Aio.CreateTask(HoldUntil(l, blocker, log, "a"));
        await Aio.Yield();
        Assert.True(l.IsLocked);
        var b = Aio.CreateTask(AcquireRelease(l, log, "b"));
        await Aio.Yield();
        var c = Aio.CreateTask(AcquireRelease(l, log, "c"));
        await Aio.Yield();
        blocker.Set();
        b.Cancel();
        await Aio.Yield();
        await Aio.Yield();
        Assert.True(a.IsDone);
        Assert.True(b.IsCancelled);
        await c;
        Assert.Equal(["a", "c"], log);
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Acquire_AllWaitersCancelled_FreeLockIsTakenAtOnce() => Run(async () =>
    {
        var l = new AioLock();
        await l.Acquire();
        var b = Aio.CreateTask(AcquireRelease(l, [], "b"));
        await Aio.Yield();
        b.Cancel();
        l.Release();
        // b's waiter is cancelled (not yet removed): asyncio's fast path ignores cancelled waiters.
        Assert.True(l.Acquire().IsCompleted);
        l.Release();
        await Yields(2);
        Assert.True(b.IsCancelled);
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Using_BodyThrows_ReleasesTheLock() => Run(async () =>
    {
        var l = new AioLock();
        try
        {
            using (await l.Acquire())
            {
                throw new InvalidTimeZoneException("boom");
            }
        }
        catch (InvalidTimeZoneException)
        {
        }
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void Acquire_FromPlainAsyncTask_WaitsAndResumesOnTheLoop() => Run(async () =>
    {
        var l = new AioLock();
        var log = new List<string>();
        await l.Acquire();
        var t = Aio.CreateTask(async () =>
        {
            await l.Acquire();
            log.Add("plain");
            l.Release();
        });
        await Yields(2);
        Assert.Empty(log);
        l.Release();
        await t;
        Assert.Equal(["plain"], log);
    });

    [Fact]
    public void Acquire_PlainAsyncTaskCancelled_ThrowsCancelledAndHoldsNothing() => Run(async () =>
    {
        var l = new AioLock();
        await l.Acquire();
        var t = Aio.CreateTask(async () =>
        {
            await l.Acquire();
        });
        await Aio.Yield();
        t.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await t);
        Assert.True(t.IsCancelled);
        l.Release();
        Assert.False(l.IsLocked);
    });

    [Fact]
    public void AnyMember_FromAnotherThreadWhileTheLoopRuns_ThrowsInvalidOperation() => Run(async () =>
    {
        var l = new AioLock();
        await l.Acquire();
        var ex = FromOtherThread(() => l.Release());
        Assert.IsType<InvalidOperationException>(ex);
        Assert.Contains("loop-thread only", ex.Message, StringComparison.Ordinal);
        Assert.IsType<InvalidOperationException>(FromOtherThread(() => _ = l.IsLocked));
        Assert.True(l.IsLocked);
    });

    [Fact]
    public void Lock_UsedByASecondLoop_ThrowsBoundToDifferentLoop()
    {
        var l = new AioLock();
        Run(async () =>
        {
            await l.Acquire();
            l.Release();
        });
        var ex = Assert.Throws<InvalidOperationException>(() => Run(async () => await l.Acquire()));
        Assert.Contains("bound to a different event loop", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ToString_ShowsStateAndWaiters() => Run(async () =>
    {
        var l = new AioLock();
        Assert.Equal("<Lock [unlocked]>", l.ToString());
        await l.Acquire();
        var t = Aio.CreateTask(AcquireRelease(l, [], "x"));
        await Aio.Yield();
        Assert.Equal("<Lock [locked, waiters:1]>", l.ToString());
        l.Release();
        await t;
    });
}
