namespace Kettle.Tests;

/// <summary>Shapes from CPython's test_graph.py, on Kettle's capture_call_graph equivalent.</summary>
public class CallGraphTests
{
    private static string[] Names(FutureCallGraph g) => g.CallStack.Select(f => f.Name).ToArray();

    private static async Coroutine Leaf(AioEvent ev) => await ev.Wait();

    private static async Coroutine<int> LeafValue(AioEvent ev)
    {
        await ev.Wait();
        return 1;
    }

    private static async Coroutine Middle(AioEvent ev) => await Leaf(ev);

    private static async Coroutine Outer(AioEvent ev) => await Middle(ev);

    [Fact]
    public void SuspendedTask_FramesInnermostFirst_FromItsInlineAwaitChain()
    {
        static async Coroutine<FutureCallGraph> Main()
        {
            var ev = new AioEvent();
            var t = Aio.CreateTask(Outer(ev), "c-root");
            await Aio.Sleep(1);
            var g = Aio.CaptureCallGraph(t)!;
            ev.Set();
            await t;
            return g;
        }

        var g = Virtual.Run(Main());

        Assert.Equal("c-root", g.Future.Name);
        Assert.Equal(new[] { "CallGraphTests.Leaf", "CallGraphTests.Middle", "CallGraphTests.Outer" }, Names(g));
        Assert.All(g.CallStack, f => Assert.True(f.IsAsync));
        Assert.All(g.CallStack, f => Assert.EndsWith("CallGraphTests.cs", f.File, StringComparison.Ordinal));
        Assert.Empty(g.AwaitedBy); // nobody awaits it yet: Main was sleeping
    }

    private static int LineHere([System.Runtime.CompilerServices.CallerLineNumber] int line = 0) => line;

    private static async Coroutine LeafAtKnownLines(AioEvent first, AioEvent second, int[] lines)
    {
        lines[0] = LineHere() + 1;
        await first.Wait();
        lines[1] = LineHere() + 1;
        await second.Wait();
    }

    [Fact]
    public void DebugMode_FrameLineIsTheAwaitItIsSuspendedAt()
    {
        static async Coroutine<(int AtFirst, int AtSecond, int[] AwaitLines)> Main()
        {
            var first = new AioEvent();
            var second = new AioEvent();
            var lines = new int[2];
            var t = Aio.CreateTask(LeafAtKnownLines(first, second, lines));
            await Aio.Sleep(1);
            int atFirst = Aio.CaptureCallGraph(t)!.CallStack[0].Line;
            first.Set();
            await Aio.Sleep(1);
            int atSecond = Aio.CaptureCallGraph(t)!.CallStack[0].Line;
            second.Set();
            await t;
            return (atFirst, atSecond, lines);
        }

        var debug = Aio.Run(Main(), new RunOptions { TimeProvider = new VirtualClock(), HandleCtrlC = false, Debug = true });
        var plain = Virtual.Run(Main());

        Assert.Equal(debug.AwaitLines[0], debug.AtFirst);
        Assert.Equal(debug.AwaitLines[1], debug.AtSecond);
        // Without debug mode the frame shows where the coroutine starts (its opening line), wherever it waits.
        Assert.Equal(plain.AtFirst, plain.AtSecond);
        Assert.InRange(plain.AtFirst, 1, plain.AwaitLines[0] - 1);
    }

    [Fact]
    public void Limit_KeepsInnermostOrOutermost()
    {
        static async Coroutine<(string[], string[], int)> Main()
        {
            var ev = new AioEvent();
            var t = Aio.CreateTask(Outer(ev));
            await Aio.Sleep(1);
            var inner = Names(Aio.CaptureCallGraph(t, limit: 1)!);
            var outer = Names(Aio.CaptureCallGraph(t, limit: -2)!);
            var none = Aio.CaptureCallGraph(t, limit: 0)!.CallStack.Count;
            ev.Set();
            await t;
            return (inner, outer, none);
        }

        var (inner, outer, none) = Virtual.Run(Main());
        Assert.Equal(new[] { "CallGraphTests.Leaf" }, inner);
        Assert.Equal(new[] { "CallGraphTests.Middle", "CallGraphTests.Outer" }, outer);
        Assert.Equal(0, none);
    }

    private static async Coroutine Awaits(AioTask t) => await t;

    [Fact]
    public void TaskAwaitedByItsGroupParentAndTwoSiblings_HasThreeAwaitedBy()
    {
        static async Coroutine<FutureCallGraph> Main()
        {
            var ev = new AioEvent();
            FutureCallGraph? g = null;
            await TaskGroup.Run(async tg =>
            {
                var target = tg.CreateTask(Leaf(ev), "target");
                _ = tg.CreateTask(Awaits(target), "sibling-1");
                _ = tg.CreateTask(Awaits(target), "sibling-2");
                await Aio.Sleep(1);
                g = Aio.CaptureCallGraph(target);
                ev.Set();
            });
            return g!;
        }

        var g = Virtual.Run(Main());

        Assert.Equal("target", g.Future.Name);
        Assert.Equal(3, g.AwaitedBy.Count);
        Assert.Equal(new[] { "Task-", "sibling-1", "sibling-2" }, g.AwaitedBy.Select(a => a.Future.Name.StartsWith("Task-", StringComparison.Ordinal) ? "Task-" : a.Future.Name).OrderBy(n => n, StringComparer.Ordinal));
        var sibling = g.AwaitedBy.Single(a => a.Future.Name == "sibling-1");
        Assert.Equal(new[] { "CallGraphTests.Awaits" }, Names(sibling));
        // The siblings are children of the same group: each is awaited by the group's parent.
        Assert.Single(sibling.AwaitedBy);
    }

    [Fact]
    public void GatherShieldAndWait_RecordTheirChildrenAsAwaited()
    {
        static async Coroutine<(FutureCallGraph, FutureCallGraph, FutureCallGraph)> Main()
        {
            var ev = new AioEvent();
            var gathered = Aio.CreateTask(Leaf(ev), "gathered");
            var shielded = Aio.CreateTask(LeafValue(ev), "shielded");
            var waited = Aio.CreateTask(Leaf(ev), "waited");
            var g1 = Aio.CreateTask(Awaits(Aio.Gather(gathered)), "gatherer");
            var g2 = Aio.CreateTask(ShieldIt(shielded), "shielder");
            var g3 = Aio.CreateTask(WaitFor(waited), "waiter");
            await Aio.Sleep(1);
            var result = (Aio.CaptureCallGraph(gathered)!, Aio.CaptureCallGraph(shielded)!, Aio.CaptureCallGraph(waited)!);
            ev.Set();
            await Aio.Gather(g1, g2, g3);
            return result;
        }

        static async Coroutine WaitFor(AioTask t) => await Aio.Wait(new[] { t });
        static async Coroutine ShieldIt(AioTask<int> t) => await Aio.Shield(t);

        var (gathered, shielded, waited) = Virtual.Run(Main());

        var future = Assert.Single(gathered.AwaitedBy);
        Assert.True(future.Future is not null && future.CallStack.Count == 0);
        Assert.Equal("gatherer", Assert.Single(future.AwaitedBy).Future.Name);
        Assert.Equal("shielder", Assert.Single(shielded.AwaitedBy).Future.Name);
        Assert.Equal("waiter", Assert.Single(waited.AwaitedBy).Future.Name);
        Assert.Equal("CallGraphTests.WaitFor", Assert.Single(waited.AwaitedBy).CallStack.Last().Name);
    }

    [Fact]
    public void CurrentTask_LiveFramesStartAtTheCaller()
    {
        static async Coroutine<FutureCallGraph> Deep() => Capture();
        static FutureCallGraph Capture() => Aio.CaptureCallGraph()!;
        static async Coroutine<FutureCallGraph> Main() => await Deep();

        var g = Virtual.Run(Main());

        var names = Names(g);
        Assert.EndsWith("Capture", names[0], StringComparison.Ordinal);
        Assert.False(g.CallStack[0].IsAsync);
        Assert.Equal(new[] { "CallGraphTests.Deep", "CallGraphTests.Main" }, names[1..]);
        Assert.True(g.CallStack[0].Line > 0);
    }

    [Fact]
    public void Format_MatchesAsyncioLayout()
    {
        static async Coroutine<string> Observe(AioTask t, AioEvent ev)
        {
            await Aio.Sleep(1);
            var text = Aio.FormatCallGraph(t);
            ev.Set();
            return text;
        }

        static async Coroutine<string> Main()
        {
            var ev = new AioEvent();
            var t = Aio.CreateTask(Middle(ev), "child");
            var observer = Aio.CreateTask(Observe(t, ev));
            await t;
            return await observer;
        }

        var lines = Virtual.Run(Main(), "root").Split('\n');

        Assert.Matches(@"^\* Task\(name='child', id=0x[0-9a-f]+\)$", lines[0]);
        Assert.Equal("  + Call stack:", lines[1]);
        Assert.Matches(@"^  \|   File '.*CallGraphTests\.cs', line \d+, in async CallGraphTests\.Leaf\(\)$", lines[2]);
        Assert.Matches(@"^  \|   File '.*', line \d+, in async CallGraphTests\.Middle\(\)$", lines[3]);
        Assert.Equal("  + Awaited by:", lines[4]);
        Assert.Matches(@"^    \* Task\(name='root', id=0x[0-9a-f]+\)$", lines[5]);
        Assert.Equal("      + Call stack:", lines[6]);
        Assert.Matches(@"^      \|   File '.*', line \d+, in async CallGraphTests\.Main\(\)$", lines[7]);
        Assert.Equal(8, lines.Length);
    }

    [Fact]
    public void NoLoopAndNoTask_Throws() =>
        Assert.Throws<InvalidOperationException>(() => Aio.CaptureCallGraph());

    [Fact]
    public void PrintCallGraph_WritesTheFormattedGraph()
    {
        static async Coroutine<string> Main()
        {
            var w = new StringWriter();
            Aio.PrintCallGraph(writer: w);
            return w.ToString();
        }

        Assert.StartsWith("* Task(name='printer'", Virtual.Run(Main(), "printer"), StringComparison.Ordinal);
    }
}
