using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class BarrierTests
{
    [Fact]
    public void Ctor_PartiesBelowOne_ThrowsArgumentOutOfRange()
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new AioBarrier(0));
        Assert.StartsWith("parties must be >= 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Wait_AllPartiesArrive_EachGetsADistinctIndex() => Run(async () =>
    {
        var b = new AioBarrier(3);
        var tasks = Enumerable.Range(0, 3).Select(_ => Aio.CreateTask(b.Wait())).ToList();
        await Yields(2);
        var indices = new List<int>();
        foreach (var t in tasks)
        {
            indices.Add(await t);
        }
        indices.Sort();
        Assert.Equal([0, 1, 2], indices);
        Assert.Equal(0, b.NWaiting);
        Assert.Equal("<Barrier [filling, waiters:0/3]>", b.ToString());
    });

    [Fact]
    public void Wait_FewerThanParties_KeepsWaitingAndCountsWaiters() => Run(async () =>
    {
        var b = new AioBarrier(3);
        var t1 = Aio.CreateTask(b.Wait());
        var t2 = Aio.CreateTask(b.Wait());
        await Yields(3);
        Assert.False(t1.IsDone);
        Assert.Equal(2, b.NWaiting);
        Assert.Equal("<Barrier [filling, waiters:2/3]>", b.ToString());
        Assert.Equal(2, await b.Wait());
        await t1;
        await t2;
    });

    [Fact]
    public void Wait_SeveralCycles_BarrierIsReusable() => Run(async () =>
    {
        var b = new AioBarrier(2);
        var log = new List<string>();
        async Coroutine Party(string name)
        {
            for (int round = 0; round < 3; round++)
            {
                await b.Wait();
                log.Add($"{name}{round}");
            }
        }
        var x = Aio.CreateTask(Party("x"));
        var y = Aio.CreateTask(Party("y"));
        await x;
        await y;
        Assert.Equal(6, log.Count);
        // Nobody starts round r+1 before both finished round r.
        Assert.Equal(["x0", "y0"], log.Take(2).Order());
        Assert.Equal(["x1", "y1"], log.Skip(2).Take(2).Order());
    });

    [Fact]
    public void Abort_WithWaiters_TheyThrowBrokenBarrierAndLaterWaitsToo() => Run(async () =>
    {
        var b = new AioBarrier(3);
        var t1 = Aio.CreateTask(b.Wait());
        await Yields(2);
        await b.Abort();
        Assert.True(b.IsBroken);
        var ex = await Assert.ThrowsAsync<BrokenBarrierException>(async () => await t1);
        Assert.Equal("Abort or reset of barrier", ex.Message);
        var ex2 = await Assert.ThrowsAsync<BrokenBarrierException>(async () => await b.Wait());
        Assert.Equal("Barrier aborted", ex2.Message);
        Assert.Equal("<Barrier [broken]>", b.ToString());
    });

    [Fact]
    public void Reset_WithWaiters_TheyThrowBrokenBarrierThenItFillsAgain() => Run(async () =>
    {
        var b = new AioBarrier(2);
        var t1 = Aio.CreateTask(b.Wait());
        await Yields(2);
        await b.Reset();
        await Assert.ThrowsAsync<BrokenBarrierException>(async () => await t1);
        Assert.False(b.IsBroken);
        var t2 = Aio.CreateTask(b.Wait());
        var t3 = Aio.CreateTask(b.Wait());
        Assert.Equal(1, (await t2) + (await t3));
    });

    [Fact]
    public void Reset_AfterAbort_RepairsTheBarrier() => Run(async () =>
    {
        var b = new AioBarrier(1);
        await b.Abort();
        await b.Reset();
        Assert.False(b.IsBroken);
        Assert.Equal(0, await b.Wait());
    });

    [Fact]
    public void Wait_CancelledWhileFilling_LeavesWithoutBreakingTheBarrier() => Run(async () =>
    {
        var b = new AioBarrier(2);
        var t1 = Aio.CreateTask(b.Wait());
        await Yields(2);
        Assert.Equal(1, b.NWaiting);
        t1.Cancel();
        await Assert.ThrowsAsync<CancelledException>(async () => await t1);
        Assert.Equal(0, b.NWaiting);
        Assert.False(b.IsBroken);
        var t2 = Aio.CreateTask(b.Wait());
        var t3 = Aio.CreateTask(b.Wait());
        Assert.Equal(1, (await t2) + (await t3));
    });
}
