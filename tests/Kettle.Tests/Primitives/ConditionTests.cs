using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class ConditionTests
{
    private static async Coroutine WaitAndLog(AioCondition c, List<string> log, string name)
    {
        using (await c.Acquire())
        {
            await c.Wait();
            Assert.True(c.IsLocked);
            log.Add(name);
        }
    }

    [Fact]
    public void Wait_LockNotHeld_ThrowsInvalidOperation() => Run(async () =>
    {
        var c = new AioCondition();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(async () => await c.Wait());
        Assert.Equal("cannot wait on un-acquired lock", ex.Message);
    });

    [Fact]
    public void Notify_LockNotHeld_ThrowsInvalidOperation() => Run(async () =>
    {
        var c = new AioCondition();
        Assert.Equal("cannot notify on un-acquired lock", Assert.Throws<InvalidOperationException>(() => c.Notify()).Message);
        Assert.Throws<InvalidOperationException>(c.NotifyAll);
        await Aio.Yield();
    });

    [Fact]
    public void Notify_N_WakesNWaitersInFifoOrderEachHoldingTheLock() => Run(async () =>
    {
        var c = new AioCondition();
        var log = new List<string>();
        var tasks = new[] { "a", "b", "c" }.Select(n => Aio.CreateTask(WaitAndLog(c, log, n))).ToList();
        await Yields(2);
        using (await c.Acquire())
        {
            c.Notify(2);
        }
        await Yields(4);
        Assert.Equal(["a", "b"], log);
        using (await c.Acquire())
        {
            c.NotifyAll();
        }
        foreach (var t in tasks)
        {
            await t;
        }
        Assert.Equal(["a", "b", "c"], log);
        Assert.False(c.IsLocked);
    });

    [Fact]
    public void Wait_Cancelled_ReacquiresTheLockBeforeThrowing() => Run(async () =>
    {
        var c = new AioCondition();
        bool heldWhenCancelled = false;
        async Coroutine Waiter()
        {
            await c.Acquire();
            try
            {
                await c.Wait();
            }
            catch (CancelledException)
            {
                heldWhenCancelled = c.IsLocked;
                c.Release();
                throw;
            }
        }
        var t = Aio.CreateTask(Waiter());
        await Yields(2);
        Assert.False(c.IsLocked);
        t.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await t);
        Assert.True(heldWhenCancelled);
        Assert.False(c.IsLocked);
    });

    [Fact]
    public void Wait_CancelledWhileTheLockIsContested_WaitsForTheLockThenThrows() => Run(async () =>
    {
        // asyncio test_wait_cancel_contested: the lock is held by another task when the waiter is cancelled.
        var c = new AioCondition();
        bool heldWhenCancelled = false;
        async Coroutine Waiter()
        {
            await c.Acquire();
            try
            {
                await c.Wait();
            }
            catch (CancelledException)
            {
                heldWhenCancelled = c.IsLocked;
                c.Release();
                throw;
            }
        }
        var t = Aio.CreateTask(Waiter());
        await Yields(2);
        await c.Acquire();
        t.Cancel();
        await Yields(3);
        Assert.False(t.IsDone); // it cannot leave without the lock
        c.Release();
        await Assert.ThrowsAsync<CancelledException>(async () => await t);
        Assert.True(heldWhenCancelled);
    });

    [Fact]
    public void Wait_CancelledAgainWhileReacquiring_StillEndsHoldingTheLock() => Run(async () =>
    {
        var c = new AioCondition();
        bool heldWhenCancelled = false;
        async Coroutine Waiter()
        {
            await c.Acquire();
            try
            {
                await c.Wait();
            }
            catch (CancelledException)
            {
                heldWhenCancelled = c.IsLocked;
                c.Release();
                throw;
            }
        }
        var t = Aio.CreateTask(Waiter());
        await Yields(2);
        await c.Acquire();
        c.Notify();
        await Aio.Yield();   // the waiter is notified and now queues for the lock
        t.Cancel();
        await Aio.Yield();
        t.Cancel();
        await Yields(2);
        Assert.False(t.IsDone);
        c.Release();
        await Assert.ThrowsAsync<CancelledException>(async () => await t);
        Assert.True(heldWhenCancelled);
        Assert.False(c.IsLocked);
    });

    [Fact]
    public void Wait_CancelledAfterBeingNotified_PassesTheNotificationOn() => Run(async () =>
    {
        // asyncio test_cancelled_wakeup: a notification consumed by a cancelled waiter is not lost.
        var c = new AioCondition();
        var log = new List<string>();
        var a = Aio.CreateTask(WaitAndLog(c, log, "a"));
        var b = Aio.CreateTask(WaitAndLog(c, log, "b"));
        await Yields(2);
        using (await c.Acquire())
        {
            c.Notify(1);    // wakes a
            a.Cancel();     // a leaves: b must get the notification
        }
        await Assert.ThrowsAsync<CancelledException>(async () => await a);
        await b;
        Assert.Equal(["b"], log);
    });

    [Fact]
    public void WaitFor_PredicateAlreadyTrue_ReturnsWithoutTheLock() => Run(async () =>
    {
        var c = new AioCondition();
        Assert.True(await c.WaitFor(() => true));
        Assert.False(c.IsLocked);
    });

    [Fact]
    public void WaitFor_PredicateFalse_WaitsUntilNotifiedAndTrue() => Run(async () =>
    {
        var c = new AioCondition();
        int value = 0;
        async Coroutine<bool> Waiter()
        {
            using (await c.Acquire())
            {
                return await c.WaitFor(() => value == 2);
            }
        }
        var t = Aio.CreateTask(Waiter());
        for (int i = 1; i <= 2; i++)
        {
            await Yields(2);
            Assert.False(t.IsDone);
            using (await c.Acquire())
            {
                value = i;
                c.NotifyAll();
            }
        }
        Assert.True(await t);
    });

    [Fact]
    public void Condition_SharedLock_IsTheGivenLock() => Run(async () =>
    {
        var l = new AioLock();
        var c = new AioCondition(l);
        await l.Acquire();
        Assert.True(c.IsLocked);
        c.Release();
        Assert.False(l.IsLocked);
        Assert.Equal("<Condition [unlocked]>", c.ToString());
    });
}
