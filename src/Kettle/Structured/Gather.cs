using System.Runtime.CompilerServices;
namespace Kettle;

public static partial class Aio
{
    /// <summary>
    /// Runs the coroutines as tasks concurrently and returns their results in argument order, whatever
    /// order they finish in. asyncio counterpart: <c>asyncio.gather(*aws)</c>.
    /// </summary>
    /// <remarks>
    /// <list type="bullet">
    /// <item>The first child that fails (or is cancelled) fails the gather at once with that exception;
    /// the other children keep running, as in asyncio. When the others should be cancelled on failure,
    /// use a TaskGroup instead.</item>
    /// <item>Cancelling the gather (or the task awaiting it) cancels every child; the gather then fails
    /// with <see cref="CancelledException"/> (at once if a child ends cancelled; otherwise when all have finished).</item>
    /// <item>The same coroutine or task passed twice runs once; its result appears at each position.</item>
    /// </list>
    /// </remarks>
    public static AioTask<T[]> Gather<T>(params Coroutine<T>[] coroutines)
    {
        var loop = GetRunningLoop();
        var tasks = ToTasks(loop, coroutines);
        return new GatherFuture<AioTask<T>, T[]>(loop, tasks, false, Results);
    }

    /// <summary>Waits for the tasks and returns their results in argument order; see <see cref="Gather{T}(Coroutine{T}[])"/>.</summary>
    public static AioTask<T[]> Gather<T>(params AioTask<T>[] tasks)
    {
        var loop = CheckTasks(tasks);
        return new GatherFuture<AioTask<T>, T[]>(loop, (AioTask<T>[])tasks.Clone(), false, Results);
    }

    /// <summary>Runs the coroutines concurrently and returns their results in order; see <see cref="Gather{T}(Coroutine{T}[])"/>.</summary>
    public static AioTask<T[]> Gather<T>(IEnumerable<Coroutine<T>> coroutines) => Gather(coroutines?.ToArray()!);

    /// <summary>
    /// Waits for tasks of different result types; returns their results (null for tasks without one) in argument
    /// order. Failure and cancellation rules as <see cref="Gather{T}(Coroutine{T}[])"/>.
    /// </summary>
    public static AioTask<object?[]> Gather(params AioTask[] tasks)
    {
        var loop = CheckTasks(tasks);
        return new GatherFuture<AioTask, object?[]>(loop, (AioTask[])tasks.Clone(), false, static c => Array.ConvertAll(c, t => t.BoxedResult));
    }

    /// <summary>
    /// As <see cref="Gather{T}(Coroutine{T}[])"/>, but a failed or cancelled child does not fail the gather: its
    /// exception (a <see cref="CancelledException"/> for a cancelled child) takes its place in the results.
    /// Cancelling the gather still ends it with <see cref="CancelledException"/>. asyncio counterpart:
    /// <c>asyncio.gather(*aws, return_exceptions=True)</c>.
    /// </summary>
    public static AioTask<Outcome<T>[]> GatherReturningExceptions<T>(params Coroutine<T>[] coroutines) =>
        GatherReturningExceptions(ToTasks(GetRunningLoop(), coroutines));

    /// <summary>As <see cref="GatherReturningExceptions{T}(Coroutine{T}[])"/> for tasks.</summary>
    public static AioTask<Outcome<T>[]> GatherReturningExceptions<T>(params AioTask<T>[] tasks)
    {
        var loop = CheckTasks(tasks);
        return new GatherFuture<AioTask<T>, Outcome<T>[]>(loop, (AioTask<T>[])tasks.Clone(), true, static c => Array.ConvertAll(c, Outcome<T>.Of));
    }

    // Gathers of many children: the loops over them are compiled optimized at first call (a gather of 100k calls
    // would otherwise run them unoptimized, then replaced mid-loop).
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static T[] Results<T>(AioTask<T>[] children)
    {
        var results = new T[children.Length];
        for (int i = 0; i < children.Length; i++)
        {
            results[i] = children[i].result!;
        }
        return results;
    }

    private static AioTask<T>[] ToTasks<T>(EventLoop loop, Coroutine<T>[] coroutines)
    {
        ArgumentNullException.ThrowIfNull(coroutines);
        var tasks = new AioTask<T>[coroutines.Length];
        for (int i = 0; i < coroutines.Length; i++)
        {
            var box = coroutines[i].Box ?? throw CoroutineBox.DefaultCoroutine();
            // ensure_future: a coroutine passed twice is wrapped once.
            tasks[i] = box.status == AioTask.StatusCold ? loop.CreateTask(coroutines[i]) : box.IsTaskBox ? box
                : throw new InvalidOperationException($"Coroutine '{box.CoroutineName}' is already being awaited; it cannot also be gathered.");
        }
        return tasks;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static EventLoop CheckTasks(AioTask[] tasks)
    {
        // Was a call to itself (endless recursion: Gather of tasks overflowed the stack). The checks asyncio's
        // ensure_future does: no null, and every task on the running loop.
        ArgumentNullException.ThrowIfNull(tasks);
        var loop = GetRunningLoop();
        foreach (var t in tasks)
        {
            if (t is null)
            {
                throw new ArgumentException("The tasks contain null.", nameof(tasks));
            }
            if (t.loop != loop)
            {
                throw new InvalidOperationException($"Task '{t.Name}' is attached to a different loop than the gather.");
            }
        }
        return loop;
    }
}

/// <summary>One child's outcome in <see cref="Aio.GatherReturningExceptions{T}(Coroutine{T}[])"/>: a value or an exception.</summary>
/// <typeparam name="T">The value type.</typeparam>
/// <param name="Value">The result, when the child succeeded.</param>
/// <param name="Exception">The exception, when it failed or was cancelled (a <see cref="CancelledException"/>).</param>
public readonly record struct Outcome<T>(T? Value, Exception? Exception)
{
    /// <summary>Whether the child succeeded.</summary>
    public bool IsSuccess => Exception is null;

    internal static Outcome<T> Of(AioTask<T> t) =>
        t.IsCancelled ? new(default, t.MakeCancelled()) : t.IsFaulted ? new(default, t.error) : new(t.result, null);

    /// <inheritdoc/>
    public override string ToString() => IsSuccess ? $"{Value}" : $"{Exception!.GetType().Name}: {Exception.Message}";
}

/// <summary>
/// The future <see cref="Aio.Gather{T}(Coroutine{T}[])"/> returns. asyncio counterpart: <c>_GatheringFuture</c>.
/// It is not a task of its own (it runs no code and is not in all_tasks); it finishes from its children's
/// done callbacks, which are queued on the loop like every completion.
/// </summary>
/// <remarks>Threading: loop thread only.</remarks>
internal sealed class GatherFuture<TChild, TResult> : AioTask<TResult>, IChildWatcher
    where TChild : AioTask
{
    private readonly TChild[] children;
    private readonly bool returnExceptions;
    private readonly Func<TChild[], TResult> collect;
    private int remaining;
    private bool cancelRequested;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public GatherFuture(EventLoop loop, TChild[] children, bool returnExceptions, Func<TChild[], TResult> collect)
    {
        this.returnExceptions = returnExceptions;
        this.collect = collect;
        this.loop = loop;
        status = StatusPending;
        flags = FlagStarted;
        this.children = children;
        // Count distinct children (the same task passed twice is watched once): mark each on its first sight, then
        // watch each marked child once, unmarking it. No list of them: a gather of a million children holds none.
        int distinct = 0;
        foreach (var c in children)
        {
            if ((c.flags & FlagMarked) == 0)
            {
                c.flags |= FlagMarked;
                distinct++;
            }
        }
        remaining = distinct;
        if (remaining == 0)
        {
            result = collect(children);
            FinishTask(StatusSucceeded, null);
            return;
        }
        foreach (var c in children)
        {
            if ((c.flags & FlagMarked) == 0)
            {
                continue; // a repeat, already watched
            }
            c.flags &= unchecked((byte)~FlagMarked);
            if (c.IsDone)
            {
                OnChildDone(c);
            }
            else
            {
                c.AddWaiter(this);
            }
        }
    }

    internal override string CoroutineName => "gather";

    internal override bool IsPlainFuture => true;

    internal override void ResumeCore() => throw new InvalidOperationException("A gather future has no code to run.");

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public void OnChildDone(AioTask child)
    {
        remaining--;
        if (IsDone)
        {
            // The gather already failed: later failures are marked retrieved, so nothing is logged twice.
            child.MarkRetrieved();
            return;
        }
        if (returnExceptions)
        {
            child.MarkRetrieved(); // its exception becomes a value of the result
        }
        else if (child.IsFaulted || child.IsCancelled)
        {
            var ex = child.IsCancelled ? child.MakeCancelled() : child.error!;
            child.MarkRetrieved();
            // The outer future is done with that exception, not cancelled (asyncio sets it as an exception).
            FinishTask(StatusFaulted, ex);
            return;
        }
        if (remaining > 0)
        {
            return;
        }
        if (cancelRequested)
        {
            // As asyncio: the outer future fails with CancelledError, even with return_exceptions.
            FinishTask(StatusFaulted, new CancelledException(extras?.CancelMessage));
            return;
        }
        result = collect(children);
        FinishTask(StatusSucceeded, null);
    }

    /// <summary>Cancelling the gather cancels every child; it ends cancelled once they all finished.</summary>
    internal override bool CancelCore(string? message)
    {
        if (IsDone)
        {
            return false;
        }
        if ((flags & FlagCancelPropagating) != 0)
        {
            // Back here through a child that awaits this gather (an await cycle): stop going round.
            return CloseCancelCycle(loop!);
        }
        bool any = false;
        flags |= FlagCancelPropagating;
        try
        {
            foreach (var c in children)
            {
                if (c.CancelCore(message))
                {
                    any = true;
                }
            }
        }
        finally
        {
            flags &= unchecked((byte)~FlagCancelPropagating);
        }
        if (any)
        {
            cancelRequested = true;
            Extras.CancelMessage = message;
        }
        return any;
    }
}
