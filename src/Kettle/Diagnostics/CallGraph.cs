using System.Diagnostics;
using System.Globalization;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace Kettle;

/// <summary>
/// One frame of a <see cref="FutureCallGraph"/>'s call stack. asyncio counterpart: <c>asyncio.FrameCallGraphEntry</c>.
/// </summary>
/// <param name="Name">The method, as "Type.Method" (compiler-generated names cleaned up).</param>
/// <param name="File">The source file, or null when unknown (no PDB).</param>
/// <param name="Line">The line in <paramref name="File"/>; 0 when unknown. For a suspended coroutine frame it is the
/// method's first line (where it is suspended is not recorded); for the running task's live frames, the current line.</param>
/// <param name="IsAsync">Whether the frame is a coroutine (or async method) frame rather than a synchronous call.</param>
/// <remarks>Threading: immutable; any thread may read it.</remarks>
public sealed record CallGraphFrame(string Name, string? File, int Line, bool IsAsync);

/// <summary>
/// A task or future, the frames it is suspended in (innermost first), and, recursively, who awaits it.
/// asyncio counterpart: <c>asyncio.FutureCallGraph</c> (from <c>asyncio.capture_call_graph</c>).
/// </summary>
/// <param name="Future">The task or future.</param>
/// <param name="CallStack">Its frames, innermost first; empty for a plain future.</param>
/// <param name="AwaitedBy">The graphs of the tasks and futures awaiting it: awaiting tasks, its TaskGroup's parent,
/// the task that gathered, shielded or waited on it.</param>
/// <remarks>Threading: immutable once captured; capture it on the loop thread.</remarks>
public sealed record FutureCallGraph(AioTask Future, IReadOnlyList<CallGraphFrame> CallStack, IReadOnlyList<FutureCallGraph> AwaitedBy);

public static partial class Aio
{
    /// <summary>
    /// Captures the async call graph of <paramref name="task"/> (default: the current task): its frames innermost first
    /// and, recursively, who awaits it. Returns null when no task is given and none is running.
    /// asyncio counterpart: <c>asyncio.capture_call_graph(future=None, /, *, depth=1, limit=None)</c>.
    /// </summary>
    /// <param name="task">The task or future; null for the current task.</param>
    /// <param name="depth">For the current task: how many of the caller's own frames to skip (1: start at the caller).</param>
    /// <param name="limit">Null keeps every frame; N &gt; 0 keeps the N innermost, N &lt; 0 the |N| outermost, 0 none.</param>
    /// <remarks>Threading: loop thread only. No private reflection: frames come from the coroutine boxes' await links
    /// (and, for the running task, from its live stack).</remarks>
    public static FutureCallGraph? CaptureCallGraph(AioTask? task = null, int depth = 1, int? limit = null)
    {
        var loop = EventLoop.RunningOnThisThread;
        if (task is null)
        {
            if (loop is null)
            {
                throw new InvalidOperationException(
                    "CaptureCallGraph() is called outside of a running event loop and no task to introspect was provided.");
            }
            task = loop.currentTask;
            if (task is null)
            {
                return null;
            }
        }
        task.CheckLoopThread(nameof(CaptureCallGraph));
        return CallGraphBuilder.Build(task, depth + 1, limit, new HashSet<AioTask>(ReferenceEqualityComparer.Instance));
    }

    /// <summary>
    /// The call graph of <paramref name="task"/> (default: the current task) as text, in asyncio's format; "" when there
    /// is none. asyncio counterpart: <c>asyncio.format_call_graph</c>.
    /// </summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public static string FormatCallGraph(AioTask? task = null, int depth = 1, int? limit = null)
    {
        var g = CaptureCallGraph(task, depth + 1, limit);
        return g is null ? "" : FormatCallGraph(g);
    }

    /// <summary>Formats a captured graph as asyncio does ("* Task(name='...', id=0x...)", "  + Call stack:", ...).</summary>
    /// <remarks>Threading: any thread.</remarks>
    public static string FormatCallGraph(FutureCallGraph graph)
    {
        ArgumentNullException.ThrowIfNull(graph);
        var lines = new List<string>();
        CallGraphBuilder.Render(graph, lines, 0);
        return string.Join("\n", lines);
    }

    /// <summary>Writes <see cref="FormatCallGraph(AioTask?, int, int?)"/> and a newline to <paramref name="writer"/>
    /// (default: standard output). asyncio counterpart: <c>asyncio.print_call_graph</c>.</summary>
    /// <remarks>Threading: loop thread only.</remarks>
    public static void PrintCallGraph(AioTask? task = null, TextWriter? writer = null, int depth = 1, int? limit = null)
    {
        (writer ?? Console.Out).WriteLine(FormatCallGraph(task, depth + 1, limit));
    }
}

/// <summary>Builds and renders call graphs.</summary>
internal static class CallGraphBuilder
{
    public static FutureCallGraph Build(AioTask task, int depth, int? limit, HashSet<AioTask> visiting)
    {
        var frames = ReferenceEquals(task.loop?.currentTask, task) && task.loop!.IsOnLoopThread
            ? LiveFrames(task, depth + 1)
            : SuspendedFrames(task);
        if (limit is { } n)
        {
            frames = n >= 0 ? frames.Take(n).ToList() : frames.Skip(Math.Max(0, frames.Count + n)).ToList();
        }
        var awaitedBy = new List<FutureCallGraph>();
        visiting.Add(task);
        foreach (var awaiter in Awaiters(task))
        {
            if (!visiting.Contains(awaiter))
            {
                awaitedBy.Add(Build(awaiter, 0, limit, visiting));
            }
        }
        visiting.Remove(task);
        return new FutureCallGraph(task, frames, awaitedBy);
    }

    /// <summary>The task that one entry of <paramref name="task"/>'s waiters stands for, if any (for call graphs and
    /// for the snapshots the kettle tool reads off the loop thread).</summary>
    internal static AioTask? AwaiterFor(object? waiter, AioTask task) => waiter switch
    {
        AioTask t => t, // an awaiting task, or a gather future watching its child
        TaskGroup g => g.ParentTask, // a group's child: its waiter is the group itself
        ShieldLink s when ReferenceEquals(s.Inner, task) => s.Awaiter, // a shielded task: awaited by the task that shielded it
        WaitLink link => link.Awaiter, // a task in an Aio.Wait: awaited by the waiting task
        _ => null,
    };

    /// <summary>Who awaits <paramref name="task"/>, each once, in the order they started waiting.</summary>
    internal static List<AioTask> Awaiters(AioTask task)
    {
        var result = new List<AioTask>();
        void Add(AioTask? a)
        {
            if (a is { IsDone: false } && !ReferenceEquals(a, task) && !result.Contains(a))
            {
                result.Add(a);
            }
        }
        void FromWaiter(object w) => Add(AwaiterFor(w, task));
        if (task.extras?.AwaitedBy is { } explicitly)
        {
            foreach (var a in explicitly)
            {
                Add(a);
            }
        }
        switch (task.waiters)
        {
            case List<object> list:
                foreach (var w in list)
                {
                    FromWaiter(w);
                }
                break;
            case { } single:
                FromWaiter(single);
                break;
        }
        return result;
    }

    /// <summary>A suspended task: its chain of inline-awaited coroutine frames, innermost first.</summary>
    private static List<CallGraphFrame> SuspendedFrames(AioTask task)
    {
        var frames = new List<CallGraphFrame>();
        if (task.IsPlainFuture)
        {
            return frames;
        }
        var f = BoxOf(task.resumeFrame);
        while (f is not null)
        {
            frames.Add(FrameOf(f));
            if (ReferenceEquals(f, task))
            {
                return frames;
            }
            f = f.resumeFrame as AioTask;
        }
        // Not started, waiting on a foreign awaitable, or a chain cut by one: end at the task's own frame.
        frames.Add(FrameOf(task));
        return frames;
    }

    /// <summary>The coroutine frame a task resumes in: directly, or through the primitive's waiter that holds it.</summary>
    internal static AioTask? BoxOf(IFrame? frame) => frame switch
    {
        AioTask box => box,
        Waiter w => w.Frame as AioTask,
        _ => null,
    };

    private static CallGraphFrame FrameOf(AioTask frame)
    {
        var at = SourceLocations.Of(frame);
        return new CallGraphFrame(frame.CoroutineName, at?.File, at?.Line ?? 0, true);
    }

    /// <summary>The running task: the live stack from the caller out to the task's own coroutine frame.</summary>
    private static List<CallGraphFrame> LiveFrames(AioTask task, int skip)
    {
        var frames = new List<CallGraphFrame>();
        var own = task.StateMachineType;
        var kettle = typeof(AioTask).Assembly;
        bool reachedOwn = false;
        foreach (var sf in new StackTrace(skip, true).GetFrames())
        {
            var m = sf.GetMethod();
            var type = m?.DeclaringType;
            if (m is null || type is null)
            {
                continue;
            }
            if (type.Assembly == kettle && m.Name == nameof(AioTask.CompleteFrame))
            {
                break; // frames below finished before this one resumed: they are not its callers
            }
            if (type.Assembly == kettle || IsRuntime(type))
            {
                continue;
            }
            bool isAsync = m.Name == "MoveNext" && typeof(IAsyncStateMachine).IsAssignableFrom(type);
            var name = isAsync ? MethodNames.FromStateMachine(type) : MethodNames.FromMethod((MethodInfo)m);
            frames.Add(new CallGraphFrame(name, sf.GetFileName(), sf.GetFileLineNumber(), isAsync));
            if (isAsync && type == own)
            {
                reachedOwn = true;
                break;
            }
        }
        if (!reachedOwn && !task.IsPlainFuture)
        {
            frames.Add(FrameOf(task));
        }
        return frames;
    }

    private static bool IsRuntime(Type t) =>
        t.Namespace is { } ns && (ns.StartsWith("System", StringComparison.Ordinal) || ns.StartsWith("Microsoft", StringComparison.Ordinal) || ns.StartsWith("Xunit", StringComparison.Ordinal));

    public static void Render(FutureCallGraph g, List<string> lines, int level)
    {
        var indent = new string(' ', level * 4);
        var t = g.Future;
        var id = "0x" + (t.id != 0 ? t.id : RuntimeHelpers.GetHashCode(t)).ToString("x", CultureInfo.InvariantCulture);
        lines.Add(indent + (t.IsPlainFuture ? $"* Future(id={id})" : $"* Task(name='{t.Name}', id={id})"));
        if (g.CallStack.Count > 0)
        {
            lines.Add(indent + "  + Call stack:");
            foreach (var f in g.CallStack)
            {
                lines.Add(indent + $"  |   File '{f.File}', line {f.Line}, in {(f.IsAsync ? "async " : "")}{f.Name}()");
            }
        }
        if (g.AwaitedBy.Count > 0)
        {
            lines.Add(indent + "  + Awaited by:");
            foreach (var a in g.AwaitedBy)
            {
                Render(a, lines, level + 1);
            }
        }
    }
}
