using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class SemaphoreTests
{
    private static async Coroutine AcquireAndLog(AioSemaphore s, List<int> log, int n)
    {
        await s.Acquire();
        log.Add(n);
    }

    [Fact]
    public void Ctor_NegativeValue_ThrowsArgumentOutOfRange()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AioSemaphore(-1));
        Assert.StartsWith("Semaphore initial value must be >= 0", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Acquire_PermitsFree_CompletesWithoutSuspendingUntilZero() => Run(async () =>
    {
        var s = new AioSemaphore(2);
        Assert.True(s.Acquire().IsCompleted);
        Assert.False(s.IsLocked);
        await s.Acquire();
        Assert.True(s.IsLocked);
        Assert.False(s.Acquire().IsCompleted); // not awaited: a wait that never started takes nothing
        s.Release();
        s.Release();
        Assert.Equal(2, s.Value);
    });

    [Fact]
    public void Acquire_WaitersQueued_GrantedInFifoOrder() => Run(async () =>
    {
        var s = new AioSemaphore(0);
        var log = new List<int>();
        var tasks = Enumerable.Range(1, 3).Select(i => Aio.CreateTask(AcquireAndLog(s, log, i))).ToList();
        await Aio.Yield();
        s.Release();
        s.Release();
        s.Release();
        foreach (var t in tasks)
        {
            await t;
        }
        Assert.Equal([1, 2, 3], log);
    });

    [Fact]
    public void Acquire_PermitFreeButTasksQueued_NewcomerQueues() => Run(async () =>
    {
        var s = new AioSemaphore(0);
        var log = new List<int>();
        var t = Aio.CreateTask(AcquireAndLog(s, log, 1));
        await Aio.Yield();
        s.Release();  // the permit is taken for the woken waiter
        s.Release();  // a free permit, but the queue is not empty yet
        Assert.True(s.IsLocked);
        Assert.False(s.Acquire().IsCompleted);
        await t;
        Assert.Equal([1], log);
    });

    [Fact]
    public void Acquire_OneSuccessfulWait_WakesSeveralQueuedWaiters() => Run(async () =>
    {
        // asyncio test_acquire_fifo_order_4.
        var s = new AioSemaphore(0);
        var result = new List<int>();
        AioTask? t4 = null;
        async Coroutine C4()
        {
            result.Add(4);
            await Aio.Yield();
        }
        async Coroutine C1()
        {
            Assert.Equal(0, s.Value);
            await s.Acquire();
            Assert.Equal(0, s.Value);
            t4 = Aio.CreateTask(C4());
            result.Add(1);
        }
        async Coroutine C2()
        {
            s.Release();
            s.Release();
            s.Release();
            Assert.Equal(2, s.Value);
            Assert.True(s.IsLocked);
            await s.Acquire();
            result.Add(2);
        }
        async Coroutine C3()
        {
            await s.Acquire();
            Assert.True(s.IsLocked);
            result.Add(3);
        }
        var t1 = Aio.CreateTask(C1());
        var t2 = Aio.CreateTask(C2());
        var t3 = Aio.CreateTask(C3());
        await Aio.Yield();
        Assert.Equal(2, s.Value);
        Assert.Equal(3, s.WaiterCount);
        await Aio.Yield();
        await t1;
        await t2;
        await t3;
        await t4!;
        Assert.Equal([1, 2, 3, 4], result);
    });

    [Fact]
    public void Acquire_CancelledWhileQueued_TakesNoPermit() => Run(async () =>
    {
        var s = new AioSemaphore(0);
        var log = new List<int>();
        var a = Aio.CreateTask(AcquireAndLog(s, log, 1));
        var b = Aio.CreateTask(AcquireAndLog(s, log, 2));
        await Aio.Yield();
        a.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await a);
        s.Release();
        await b;
        Assert.Equal([2], log);
        Assert.Equal(0, s.Value);
    });

    [Fact]
    public void Acquire_CancelledAfterBeingWoken_GivesThePermitToTheNextWaiter() => Run(async () =>
    {
        var s = new AioSemaphore(0);
        var log = new List<int>();
        var a = Aio.CreateTask(AcquireAndLog(s, log, 1));
        var b = Aio.CreateTask(AcquireAndLog(s, log, 2));
        await Aio.Yield();
        s.Release();   // wakes a, taking the permit for it
        a.Cancel();    // a gives it back, and it goes on to b
        await Assert.ThrowsAsync<CancelledException>(async () => await a);
        await b;
        Assert.Equal([2], log);
        Assert.Equal(0, s.Value);
    });

    [Fact]
    public void Using_Scope_ReleasesThePermit() => Run(async () =>
    {
        var s = new AioSemaphore(1);
        using (await s.Acquire())
        {
            Assert.True(s.IsLocked);
        }
        Assert.False(s.IsLocked);
        Assert.Equal("<Semaphore [unlocked, value:1]>", s.ToString());
    });

    [Fact]
    public void Release_PlainSemaphoreBeyondInitialValue_IsAllowed() => Run(async () =>
    {
        var s = new AioSemaphore(1);
        s.Release();
        Assert.Equal(2, s.Value);
        await Aio.Yield();
    });

    [Fact]
    public void Acquire_FromAnotherThreadWhileTheLoopRuns_ThrowsInvalidOperation() => Run(async () =>
    {
        var s = new AioSemaphore(1);
        Assert.IsType<InvalidOperationException>(FromOtherThread(() => s.Acquire()));
        Assert.Equal(1, s.Value);
        await Aio.Yield();
    });
}

public class BoundedSemaphoreTests
{
    [Fact]
    public void Release_AboveInitialValue_ThrowsSemaphoreFull() => Run(async () =>
    {
        var s = new AioBoundedSemaphore(2);
        await s.Acquire();
        s.Release();
        var ex = Assert.Throws<SemaphoreFullException>(s.Release);
        Assert.Equal("BoundedSemaphore released too many times", ex.Message);
        Assert.Equal(2, s.Value);
    });

    [Fact]
    public void Acquire_Waiting_BehavesAsASemaphore() => Run(async () =>
    {
        var s = new AioBoundedSemaphore(1);
        await s.Acquire();
        async Coroutine Second()
        {
            using (await s.Acquire())
            {
            }
        }
        var t = Aio.CreateTask(Second());
        await Aio.Yield();
        Assert.False(t.IsDone);
        s.Release();
        await t;
        Assert.Equal(1, s.Value);
        Assert.Throws<SemaphoreFullException>(s.Release);
        Assert.Equal("<BoundedSemaphore [unlocked, value:1]>", s.ToString());
    });
}
