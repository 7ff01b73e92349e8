using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class PriorityQueueTests
{
    [Fact]
    public void Get_SeveralItems_ReturnsSmallestFirst() => Run(async () =>
    {
        var q = new AioPriorityQueue<int>();
        foreach (var x in new[] { 5, 1, 4, 1, 9, 2, 6, 3 })
        {
            q.PutNowait(x);
        }
        var got = new List<int>();
        while (!q.IsEmpty)
        {
            got.Add(await q.Get());
        }
        Assert.Equal([1, 1, 2, 3, 4, 5, 6, 9], got);
    });

    [Fact]
    public void Get_WithComparer_UsesIt() => Run(async () =>
    {
        var q = new AioPriorityQueue<(int Priority, string Name)>(comparer: Comparer<(int Priority, string Name)>.Create((a, b) => b.Priority.CompareTo(a.Priority)));
        q.PutNowait((1, "low"));
        q.PutNowait((3, "high"));
        q.PutNowait((2, "mid"));
        Assert.Equal("high", q.GetNowait().Name);
        Assert.Equal("mid", q.GetNowait().Name);
        Assert.Equal("low", (await q.Get()).Name);
    });

    [Fact]
    public void Put_Bounded_WaitsAndKeepsHeapOrder() => Run(async () =>
    {
        var q = new AioPriorityQueue<int>(2);
        q.PutNowait(3);
        q.PutNowait(1);
        Assert.True(q.IsFull);
        async Coroutine PutZero() => await q.Put(0);
        var p = Aio.CreateTask(PutZero());
        await Aio.Yield();
        Assert.False(p.IsDone);
        Assert.Equal(1, q.GetNowait());
        await p;
        Assert.Equal(0, q.GetNowait());
        Assert.Equal(3, q.GetNowait());
    });
}
