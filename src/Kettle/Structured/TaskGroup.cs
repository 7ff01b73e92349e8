using System.Runtime.CompilerServices;
using System.Runtime.ExceptionServices;

namespace Kettle;

/// <summary>
/// Structured concurrency: a scope whose child tasks all end before it does. asyncio counterpart:
/// <c>asyncio.TaskGroup</c> (<c>async with asyncio.TaskGroup() as tg</c>).
/// </summary>
/// <remarks>
/// <code>
/// await TaskGroup.Run(async tg =>
/// {
///     var a = tg.CreateTask(Fetch("a"));
///     var b = tg.CreateTask(Fetch("b"));
/// });   // both are done here, or the group raised
/// </code>
/// <list type="bullet">
/// <item>The body runs inside the current task (the group's parent); the group waits for every child.</item>
/// <item>The first child failure (other than cancellation) cancels the remaining children and the body's
/// current await. When all have ended, the errors come out together as one <see cref="ExceptionGroup"/>:
/// children's errors in the order they failed, the body's own last.</item>
/// <item>A cancelled child is not an error. Cancelling the parent from outside propagates as
/// <see cref="CancelledException"/>, not as a group, unless children also failed: errors beat cancellation
/// (the outside cancellation is then re-armed for the parent's next await).</item>
/// <item>The group's own cancellation of its parent never leaks out: the parent's <c>Cancelling()</c> is as before.</item>
/// <item>Creating a task in a group that is shutting down (after a failure) or finished throws
/// <see cref="InvalidOperationException"/>.</item>
/// </list>
/// <para>The body is a lambda because C#'s <c>await using</c> cannot see the exception leaving its block, which
/// the group must see. An <c>async tg =&gt; ...</c> lambda passed here is a Kettle coroutine.</para>
/// <para>Threading: loop thread only.</para>
/// </remarks>
public sealed class TaskGroup : IChildWatcher, IReadyItem
{
    private const int MinCompactLength = 64;

    private readonly EventLoop loop;
    // The children in creation order, for Abort: a child leaves when the array is compacted, which drops every
    // finished one (at the latest when the array is full, or when most of its entries are finished). No per-child
    // set entry: the group is the child's waiter itself, and Count is a counter.
    private AioTask?[] children = [];
    private int childEnd;
    // Children tracked whose done callback has not run yet (asyncio: len(self._tasks)).
    private int count;
    // Finished children whose done callback is queued, oldest first, linked through their waitTarget (a finished
    // task waits on nothing): the group is queued on the loop once per finished child, and each run takes the oldest.
    private AioTask? doneHead;
    private AioTask? doneTail;
    private AioTask? parent;
    private List<Exception>? errors;
    private Future<bool>? onCompleted;
    private bool entered;
    private bool exiting;
    private bool aborting;
    private bool parentCancelRequested;
    private bool cancelOnEnter;

    private TaskGroup(EventLoop loop)
    {
        this.loop = loop;
    }

    /// <summary>Runs <paramref name="body"/> with a new group and waits for all its children.</summary>
    /// <exception cref="ExceptionGroup">One or more children (or the body) failed.</exception>
    public static Coroutine Run(Func<TaskGroup, Coroutine> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return RunCore(new TaskGroup(Aio.GetRunningLoop()), body);
    }

    /// <summary>Runs <paramref name="body"/> with a new group, waits for all its children, and returns the body's result.</summary>
    /// <exception cref="ExceptionGroup">One or more children (or the body) failed.</exception>
    public static Coroutine<T> Run<T>(Func<TaskGroup, Coroutine<T>> body)
    {
        ArgumentNullException.ThrowIfNull(body);
        return RunCore(new TaskGroup(Aio.GetRunningLoop()), body);
    }

    private static async Coroutine RunCore(TaskGroup group, Func<TaskGroup, Coroutine> body)
    {
        group.Enter();
        Exception? error = null;
        try
        {
            await body(group);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        await group.ExitAsync(error);
    }

    private static async Coroutine<T> RunCore<T>(TaskGroup group, Func<TaskGroup, Coroutine<T>> body)
    {
        group.Enter();
        Exception? error = null;
        T value = default!;
        try
        {
            value = await body(group);
        }
        catch (Exception ex)
        {
            error = ex;
        }
        await group.ExitAsync(error);
        return value;
    }

    /// <summary>The children not finished yet.</summary>
    public int Count => count;

    /// <summary>Schedules <paramref name="coroutine"/> as a child task. asyncio counterpart: <c>tg.create_task</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AioTask<T> CreateTask<T>(Coroutine<T> coroutine, string? name = null)
    {
        CheckCanCreate(coroutine.Box);
        return Track(loop.CreateTask(coroutine, name));
    }

    /// <summary>Schedules <paramref name="coroutine"/> as a child task.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AioTask CreateTask(Coroutine coroutine, string? name = null)
    {
        CheckCanCreate(coroutine.Box);
        return Track(loop.CreateTask(coroutine, name));
    }

    /// <summary>Runs a plain <c>async Task&lt;T&gt;</c> method as a child task (given the task's cancellation token).</summary>
    public AioTask<T> CreateTask<T>(Func<CancellationToken, Task<T>> function, string? name = null)
    {
        CheckCanCreate(null);
        return Track(loop.CreateTask(function, name));
    }

    /// <summary>Runs a plain <c>async Task</c> method as a child task (given the task's cancellation token).</summary>
    public AioTask CreateTask(Func<CancellationToken, Task> function, string? name = null)
    {
        CheckCanCreate(null);
        return Track(loop.CreateTask(function, name));
    }

    /// <summary>
    /// Cancels the group: every child and the body's current await; the group then ends without raising
    /// <see cref="CancelledException"/>. Idempotent; does nothing once the group has finished.
    /// asyncio counterpart: <c>TaskGroup.cancel()</c> (3.15).
    /// </summary>
    public void Cancel()
    {
        loop.CheckThread(nameof(Cancel));
        if (exiting && count == 0)
        {
            return;
        }
        if (!entered)
        {
            cancelOnEnter = true;
            return;
        }
        if (!aborting)
        {
            Abort();
        }
        if (!parentCancelRequested && parent is { IsDone: false })
        {
            parentCancelRequested = true;
            parent.Cancel();
        }
    }

    /// <inheritdoc/>
    public override string ToString()
    {
        var info = $"tasks={count}";
        if (errors is { Count: > 0 })
        {
            info += $" errors={errors.Count}";
        }
        if (aborting)
        {
            info += " cancelling";
        }
        else if (entered)
        {
            info += " entered";
        }
        return $"<TaskGroup {info}>";
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void CheckCanCreate(AioTask? box)
    {
        loop.CheckThread("TaskGroup.CreateTask");
        string? problem = !entered ? "has not been entered"
            : exiting && count == 0 ? "is finished"
            : aborting ? "is shutting down"
            : null;
        if (problem is not null)
        {
            // Like asyncio, which closes the coroutine first: the refused coroutine is not reported as never awaited.
            if (box is not null && box.extras?.Report is { } r)
            {
                box.extras.Report = null;
                r.Dismiss();
            }
            throw new InvalidOperationException($"TaskGroup {this} {problem}.");
        }
    }

    /// <summary>The task the group's body runs in, for call graphs.</summary>
    internal AioTask? ParentTask => parent;

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private T Track<T>(T task)
        where T : AioTask
    {
        if (childEnd == children.Length)
        {
            MakeRoom();
        }
        children[childEnd++] = task;
        count++;
        // The group's done callback: the group itself as the task's waiter (see OnChildDone), in the place an
        // AddDoneCallback would take, so it is queued in the same order among the task's other waiters.
        task.AddWaiter(this);
        return task;
    }

    private void MakeRoom()
    {
        // Not-finished children are at most count: compact when that frees at least half the array, else grow.
        if (childEnd > 0 && count <= childEnd / 2)
        {
            Compact();
            return;
        }
        Array.Resize(ref children, Math.Max(8, children.Length * 2));
    }

    /// <summary>Drops the finished children from <see cref="children"/>, keeping the others in creation order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Compact()
    {
        var a = children;
        int kept = 0;
        for (int i = 0; i < childEnd; i++)
        {
            var t = a[i]!;
            if (!t.IsDone)
            {
                a[kept++] = t;
            }
        }
        Array.Clear(a, kept, childEnd - kept);
        childEnd = kept;
    }

    private void Enter()
    {
        parent = loop.currentTask ?? throw new InvalidOperationException($"TaskGroup {this} cannot determine the parent task: run it inside a Kettle task.");
        entered = true;
        if (cancelOnEnter)
        {
            Cancel();
        }
    }

    private void Abort()
    {
        aborting = true;
        // No child is added while aborting (CreateTask refuses), and the array is only compacted by Track and by
        // the queued done callbacks, never inside a Cancel: the entries stay put during the loop.
        var a = children;
        int end = childEnd;
        for (int i = 0; i < end; i++)
        {
            var t = a[i]!;
            if (!t.IsDone)
            {
                t.Cancel();
            }
        }
    }

    /// <summary>A child finished (called by its <see cref="AioTask.FinishTask"/>, inline): the group's done
    /// callback is queued on the loop, as asyncio's <c>call_soon(self._on_task_done, task)</c>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IChildWatcher.OnChildDone(AioTask child)
    {
        child.waitTarget = null;
        if (doneTail is null)
        {
            doneHead = child;
        }
        else
        {
            doneTail.waitTarget = child;
        }
        doneTail = child;
        loop.Ready.Enqueue(this);
    }

    /// <summary>The queued done callback of the oldest finished child not handled yet.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    void IReadyItem.RunReady()
    {
        var task = doneHead!;
        doneHead = task.waitTarget as AioTask;
        task.waitTarget = null;
        if (doneHead is null)
        {
            doneTail = null;
        }
        try
        {
            OnTaskDone(task);
        }
        catch (Exception ex)
        {
            loop.CallExceptionHandler(new LoopExceptionContext("Exception in callback TaskGroup.OnTaskDone", ex) { Task = task });
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void OnTaskDone(AioTask task)
    {
        count--;
        if (count == 0 || (childEnd >= MinCompactLength && count < childEnd / 4))
        {
            // Finished children are not kept for long: mostly finished, the array is compacted.
            Compact();
        }
        if (onCompleted is { IsDone: false } f && count == 0)
        {
            f.SetResult(true);
        }
        if (task.IsCancelled)
        {
            return;
        }
        var exc = task.Exception;
        if (exc is null)
        {
            return;
        }
        (errors ??= new List<Exception>()).Add(exc);
        if (parent!.IsDone)
        {
            loop.CallExceptionHandler(new LoopExceptionContext(
                $"Task '{task.Name}' has errored out but its parent task '{parent.Name}' is already completed", exc)
            { Task = task });
            return;
        }
        if (!aborting && !parentCancelRequested)
        {
            // The first failure: cancel the siblings and interrupt whatever the body awaits.
            Abort();
            parentCancelRequested = true;
            parent.Cancel();
        }
    }

    /// <summary>asyncio's <c>TaskGroup.__aexit__</c>, step by step (see SEMANTICS.md §3).</summary>
    private async Coroutine ExitAsync(Exception? bodyError)
    {
        var p = parent!;
        exiting = true;
        bool bodyCancelled = bodyError is not null && p.IsCancellationOf(bodyError);
        if (bodyError is not null && !aborting)
        {
            Abort();
        }
        Exception? propagateCancellation = bodyCancelled ? bodyError : null;

        while (count > 0)
        {
            onCompleted ??= new Future<bool>(loop);
            try
            {
                await onCompleted;
            }
            catch (OperationCanceledException ex) when (p.IsCancellationOf(ex))
            {
                // Cancelled while waiting for the children: cancel them too, and keep waiting.
                if (!aborting)
                {
                    propagateCancellation = ex;
                    Abort();
                }
            }
            onCompleted = null;
        }
        exiting = true;

        if (parentCancelRequested && p.Uncancel() == 0)
        {
            // Our own cancellation of the parent must not leak out of the group.
            propagateCancellation = null;
        }
        if (propagateCancellation is not null && errors is not { Count: > 0 })
        {
            ExceptionDispatchInfo.Throw(propagateCancellation);
        }
        if (bodyError is not null && !bodyCancelled)
        {
            (errors ??= new List<Exception>()).Add(bodyError);
        }
        if (errors is { Count: > 0 })
        {
            if (p.Cancelling() > 0)
            {
                // Cancelled from outside as well: keep that request alive for the parent's next await.
                p.Uncancel();
                p.Cancel();
            }
            var group = new ExceptionGroup("unhandled errors in a TaskGroup", errors);
            errors = null;
            throw group;
        }
    }
}
