using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class QueueTests
{
    private static async Coroutine PutOne<T>(AioQueue<T> q, T item) => await q.Put(item);

    private static async Coroutine<T> GetOne<T>(AioQueue<T> q) => await q.Get();

    [Fact]
    public void PutNowaitThenGetNowait_Unbounded_ReturnsItemsInFifoOrder() => Run(async () =>
    {
        var q = new AioQueue<int>();
        for (int i = 0; i < 20; i++)
        {
            q.PutNowait(i);
        }
        Assert.Equal(20, q.Count);
        Assert.Equal(20, q.Qsize());
        Assert.False(q.IsFull);
        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(i, q.GetNowait());
        }
        Assert.True(q.IsEmpty);
        await Aio.Yield();
    });

    [Fact]
    public void MaxSize_ZeroOrNegative_IsUnbounded() => Run(async () =>
    {
        foreach (var max in new[] { 0, -1 })
        {
            var q = new AioQueue<int>(max);
            for (int i = 0; i < 100; i++)
            {
                Assert.True(q.Put(i).IsCompleted);
                q.PutNowait(i);
            }
            Assert.False(q.IsFull);
            Assert.Equal(max, q.MaxSize);
        }
        await Aio.Yield();
    });

    [Fact]
    public void GetNowait_Empty_ThrowsQueueEmpty() => Run(async () =>
    {
        var q = new AioQueue<int>();
        Assert.Throws<QueueEmptyException>(() => q.GetNowait());
        await Aio.Yield();
    });

    [Fact]
    public void PutNowait_Full_ThrowsQueueFull() => Run(async () =>
    {
        var q = new AioQueue<int>(2);
        q.PutNowait(1);
        q.PutNowait(2);
        Assert.True(q.IsFull);
        Assert.Throws<QueueFullException>(() => q.PutNowait(3));
        await Aio.Yield();
    });

    [Fact]
    public void Get_ItemAvailable_CompletesWithoutSuspending() => Run(async () =>
    {
        var q = new AioQueue<string>();
        q.PutNowait("x");
        var g = q.Get();
        Assert.True(g.IsCompleted);
        Assert.Equal("x", await g);
    });

    [Fact]
    public void Get_Empty_WaitsForAPut() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var getter = Aio.CreateTask(GetOne(q));
        await Yields(3);
        Assert.False(getter.IsDone);
        q.PutNowait(7);
        Assert.Equal(7, await getter);
        Assert.True(q.IsEmpty);
    });

    [Fact]
    public void Put_Full_WaitsForAGet() => Run(async () =>
    {
        var q = new AioQueue<int>(1);
        await q.Put(1);
        var putter = Aio.CreateTask(PutOne(q, 2));
        await Yields(3);
        Assert.False(putter.IsDone);
        Assert.Equal(1, q.GetNowait());
        await putter;
        Assert.Equal(2, q.GetNowait());
    });

    [Fact]
    public void Get_SeveralWaitingGetters_ServedInFifoOrder() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var getters = new List<AioTask<int>>();
        for (int i = 0; i < 4; i++)
        {
            getters.Add(Aio.CreateTask(GetOne(q)));
            await Aio.Yield();
        }
        for (int i = 0; i < 4; i++)
        {
            q.PutNowait(i);
        }
        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(i, await getters[i]);
        }
    });

    [Fact]
    public void Get_WokenGetterBeatenByANewcomer_WaitsAgainAtTheEnd() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var first = Aio.CreateTask(GetOne(q));
        await Aio.Yield();
        q.PutNowait(1);
        // asyncio does not reserve the item for the woken getter: a get that does not wait takes it.
        Assert.Equal(1, q.GetNowait());
        await Yields(2);
        Assert.False(first.IsDone);
        q.PutNowait(2);
        Assert.Equal(2, await first);
    });

    [Fact]
    public void Get_CancelledWhileWaiting_TakesNothing() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var getter = Aio.CreateTask(GetOne(q));
        await Aio.Yield();
        getter.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await getter);
        q.PutNowait(1);
        Assert.Equal(1, q.GetNowait());
    });

    [Fact]
    public void Get_CancelledAfterBeingWoken_DropsNoItem() => Run(async () =>
    {
        // asyncio test_get_cancel_drop_one_pending_reader: the retry gets 1, not 2.
        var q = new AioQueue<int>();
        var reader = Aio.CreateTask(GetOne(q));
        await Aio.Yield();
        q.PutNowait(1);
        q.PutNowait(2);
        reader.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await reader);
        Assert.Equal(1, await GetOne(q));
    });

    [Fact]
    public void Get_WokenGetterCancelled_WakesTheNextGetter() => Run(async () =>
    {
        // asyncio test_get_cancel_drop_many_pending_readers: no item and no wake-up is lost.
        var q = new AioQueue<int>();
        var r1 = Aio.CreateTask(GetOne(q));
        var r2 = Aio.CreateTask(GetOne(q));
        var r3 = Aio.CreateTask(GetOne(q));
        await Aio.Yield();
        q.PutNowait(1);
        q.PutNowait(2);
        r1.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await r1);
        Assert.Equal(1, await r2);
        Assert.Equal(2, await r3);
    });

    [Fact]
    public void Put_CancelledWhileWaiting_PutsNothing() => Run(async () =>
    {
        var q = new AioQueue<int>(1);
        q.PutNowait(1);
        var putter = Aio.CreateTask(PutOne(q, 2));
        await Aio.Yield();
        putter.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await putter);
        Assert.Equal(1, q.GetNowait());
        Assert.True(q.IsEmpty);
    });

    [Fact]
    public void Put_CancelledRace_OtherPuttersProceedInOrder() => Run(async () =>
    {
        // asyncio test_put_cancelled_race.
        var q = new AioQueue<string>(1);
        var putA = Aio.CreateTask(PutOne(q, "a"));
        var putB = Aio.CreateTask(PutOne(q, "b"));
        var putC = Aio.CreateTask(PutOne(q, "X"));
        await Aio.Yield();
        Assert.True(putA.IsDone);
        Assert.False(putB.IsDone);
        putC.Cancel();
        await Aio.Yield();
        Assert.True(putC.IsDone);
        Assert.Equal("a", q.GetNowait());
        await Aio.Yield();
        Assert.Equal("b", q.GetNowait());
        await putB;
        Assert.True(putC.IsCancelled);
    });

    [Fact]
    public void Put_WokenPutterCancelled_PassesTheRoomToTheNextPutter() => Run(async () =>
    {
        var q = new AioQueue<string>(1);
        q.PutNowait("a");
        var putB = Aio.CreateTask(PutOne(q, "b"));
        var putC = Aio.CreateTask(PutOne(q, "c"));
        await Aio.Yield();
        Assert.Equal("a", q.GetNowait()); // wakes b
        putB.Cancel();                     // b was woken: the room goes to c
        await Assert.ThrowsAsync<CancelledException>(async () => await putB);
        await putC;
        Assert.Equal("c", q.GetNowait());
        Assert.True(q.IsEmpty);
    });

    [Fact]
    public void TaskDone_CalledTooManyTimes_ThrowsInvalidOperation() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var ex = Assert.Throws<InvalidOperationException>(q.TaskDone);
        Assert.Equal("TaskDone() called too many times", ex.Message);
        q.PutNowait(1);
        q.GetNowait();
        q.TaskDone();
        Assert.Throws<InvalidOperationException>(q.TaskDone);
        await Aio.Yield();
    });

    [Fact]
    public void Join_NothingUnfinished_CompletesWithoutSuspending() => Run(async () =>
    {
        var q = new AioQueue<int>();
        Assert.True(q.Join().IsCompleted);
        q.PutNowait(1);
        Assert.False(q.Join().IsCompleted);
        q.GetNowait();
        q.TaskDone();
        Assert.True(q.Join().IsCompleted);
        await q.Join();
    });

    [Fact]
    public void Join_WaitsUntilEveryItemIsMarkedDone() => Run(async () =>
    {
        var q = new AioQueue<int>();
        int sum = 0;
        async Coroutine Worker()
        {
            while (true)
            {
                int item = await q.Get();
                await Aio.Sleep(0.1);
                sum += item;
                q.TaskDone();
            }
        }
        for (int i = 1; i <= 10; i++)
        {
            q.PutNowait(i);
        }
        var workers = new[] { Aio.CreateTask(Worker()), Aio.CreateTask(Worker()) };
        await q.Join();
        Assert.Equal(55, sum);
        foreach (var w in workers)
        {
            w.Cancel();
        }
    });

    [Fact]
    public void Join_Cancelled_ThrowsCancelled() => Run(async () =>
    {
        var q = new AioQueue<int>();
        q.PutNowait(1);
        async Coroutine Joiner() => await q.Join();
        var joiner = Aio.CreateTask(Joiner());
        await Aio.Yield();
        joiner.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await joiner);
    });

    [Fact]
    public void Shutdown_Puts_ThrowQueueShutDown() => Run(async () =>
    {
        var q = new AioQueue<int>();
        q.Shutdown();
        Assert.True(q.IsShutDown);
        Assert.Throws<QueueShutDownException>(() => q.PutNowait(1));
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await q.Put(1));
    });

    [Fact]
    public void Shutdown_GetsDrainTheRemainingItemsThenThrow() => Run(async () =>
    {
        var q = new AioQueue<int>();
        q.PutNowait(1);
        q.PutNowait(2);
        q.Shutdown();
        Assert.Equal(1, await q.Get());
        Assert.Equal(2, q.GetNowait());
        Assert.Throws<QueueShutDownException>(() => q.GetNowait());
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await q.Get());
    });

    [Fact]
    public void Shutdown_WaitingGetters_ThrowQueueShutDown() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var g1 = Aio.CreateTask(GetOne(q));
        var g2 = Aio.CreateTask(GetOne(q));
        await Aio.Yield();
        q.Shutdown();
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await g1);
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await g2);
    });

    [Fact]
    public void Shutdown_WaitingPutters_ThrowQueueShutDown() => Run(async () =>
    {
        var q = new AioQueue<int>(1);
        q.PutNowait(1);
        var p = Aio.CreateTask(PutOne(q, 2));
        await Aio.Yield();
        q.Shutdown();
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await p);
        Assert.Equal(1, q.GetNowait());
    });

    [Fact]
    public void Shutdown_NotImmediate_JoinStillNeedsTaskDone() => Run(async () =>
    {
        var q = new AioQueue<int>();
        q.PutNowait(1);
        q.Shutdown();
        Assert.False(q.Join().IsCompleted);
        q.GetNowait();
        q.TaskDone();
        Assert.True(q.Join().IsCompleted);
        await Aio.Yield();
    });

    [Fact]
    public void ShutdownImmediate_DropsItemsAndReleasesJoin() => Run(async () =>
    {
        var q = new AioQueue<int>();
        q.PutNowait(1);
        q.PutNowait(2);
        async Coroutine Joiner() => await q.Join();
        var joiner = Aio.CreateTask(Joiner());
        await Aio.Yield();
        q.Shutdown(immediate: true);
        Assert.True(q.IsEmpty);
        await joiner;
        Assert.Throws<QueueShutDownException>(() => q.GetNowait());
        Assert.Throws<InvalidOperationException>(q.TaskDone);
    });

    [Fact]
    public void ShutdownImmediate_WithTakenItemsUnfinished_JoinWaitsForTheirTaskDone() => Run(async () =>
    {
        // asyncio test_shutdown_immediate_with_unfinished.
        var q = new AioQueue<int>();
        q.PutNowait(1);
        q.PutNowait(2);
        Assert.Equal(1, q.GetNowait());
        q.Shutdown(immediate: true);
        Assert.False(q.Join().IsCompleted);
        q.TaskDone();
        Assert.True(q.Join().IsCompleted);
        await Aio.Yield();
    });

    [Fact]
    public void ShutdownImmediate_WaitingGetter_ThrowsQueueShutDown() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var g = Aio.CreateTask(GetOne(q));
        await Aio.Yield();
        q.Shutdown(immediate: true);
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await g);
    });

    [Fact]
    public void Get_FromPlainAsyncTask_WaitsAndReceivesTheItem() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var t = Aio.CreateTask(async () => await q.Get());
        await Aio.Yield();
        q.PutNowait(5);
        Assert.Equal(5, await t);
    });

    [Fact]
    public void AwaitForeach_YieldsItemsUntilShutdown() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var seen = new List<int>();
        async Coroutine Consumer()
        {
            await foreach (var item in q)
            {
                seen.Add(item);
            }
        }
        var consumer = Aio.CreateTask(Consumer());
        q.PutNowait(1);
        await Yields(2);
        q.PutNowait(2);
        q.PutNowait(3);
        await Yields(2);
        q.PutNowait(4);
        q.Shutdown();
        await consumer;
        Assert.Equal([1, 2, 3, 4], seen);
    });

    [Fact]
    public void AwaitForeach_TaskCancelledWhileWaiting_EndsWithCancelledAndLosesNothing() => Run(async () =>
    {
        var q = new AioQueue<int>();
        var seen = new List<int>();
        async Coroutine Consumer()
        {
            await foreach (var item in q)
            {
                seen.Add(item);
            }
        }
        var consumer = Aio.CreateTask(Consumer());
        q.PutNowait(1);
        await Yields(2);
        consumer.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await consumer);
        q.PutNowait(2);
        Assert.Equal([1], seen);
        Assert.Equal(2, q.GetNowait());
        Assert.Equal("<Queue maxsize=0 tasks=2>", q.ToString());
    });

    [Fact]
    public void AwaitForeach_TokenCancelled_ThrowsOperationCanceled() => Run(async () =>
    {
        var q = new AioQueue<int>();
        using var cts = new CancellationTokenSource();
        async Coroutine Consumer()
        {
            await foreach (var item in q.WithCancellation(cts.Token))
            {
            }
        }
        var consumer = Aio.CreateTask(Consumer());
        await Yields(2);
        cts.Cancel();
        await Yields(3);
        Assert.True(consumer.IsFaulted);
        Assert.IsType<OperationCanceledException>(consumer.Exception);
    });

    [Fact]
    public void AnyMember_FromAnotherThreadWhileTheLoopRuns_ThrowsInvalidOperation() => Run(async () =>
    {
        var q = new AioQueue<int>();
        q.PutNowait(1);
        Assert.IsType<InvalidOperationException>(FromOtherThread(() => q.PutNowait(2)));
        Assert.IsType<InvalidOperationException>(FromOtherThread(() => _ = q.Count));
        Assert.IsType<InvalidOperationException>(FromOtherThread(() => q.Get()));
        Assert.Equal(1, q.Count);
        await Aio.Yield();
    });

    [Fact]
    public void Queue_FilledBeforeTheLoopStarts_IsUsableOnTheLoop()
    {
        var q = new AioQueue<int>();
        q.PutNowait(1);
        Run(async () => Assert.Equal(1, await q.Get()));
        Assert.True(q.IsEmpty);
    }

    [Fact]
    public void ToString_ShowsAsyncioFields() => Run(async () =>
    {
        var q = new AioQueue<int>(2);
        Assert.Equal("<Queue maxsize=2>", q.ToString());
        q.PutNowait(1);
        q.PutNowait(2);
        var p = Aio.CreateTask(PutOne(q, 3));
        await Aio.Yield();
        Assert.Equal("<Queue maxsize=2 _queue=[1, 2] _putters[1] tasks=2>", q.ToString());
        q.Shutdown(immediate: true);
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await p);
        Assert.Equal("<Queue maxsize=2 shutdown>", q.ToString());
    });
}
