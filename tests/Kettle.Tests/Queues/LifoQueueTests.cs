using static Kettle.Tests.OnVirtualLoop;

namespace Kettle.Tests;

public class LifoQueueTests
{
    [Fact]
    public void Get_SeveralItems_ReturnsLastPutFirst() => Run(async () =>
    {
        var q = new AioLifoQueue<int>();
        foreach (var x in new[] { 1, 2, 3 })
        {
            await q.Put(x);
        }
        Assert.Equal(3, await q.Get());
        Assert.Equal(2, q.GetNowait());
        Assert.Equal(1, q.GetNowait());
        Assert.Equal("<LifoQueue maxsize=0 tasks=3>", q.ToString());
    });

    [Fact]
    public void Shutdown_ItemsLeft_GetsDrainThemLastFirstThenThrow() => Run(async () =>
    {
        var q = new AioLifoQueue<int>(3);
        q.PutNowait(1);
        q.PutNowait(2);
        q.Shutdown();
        Assert.Equal(2, await q.Get());
        Assert.Equal(1, await q.Get());
        await Assert.ThrowsAsync<QueueShutDownException>(async () => await q.Get());
    });
}
