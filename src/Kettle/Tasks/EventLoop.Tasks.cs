using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>The loop's side of tasks: creation, the registry behind all_tasks, the current task.</summary>
public sealed partial class EventLoop
{
    /// <summary>The task whose step is running, or null between steps.</summary>
    internal AioTask? currentTask;

    /// <summary>The innermost task passing a cancellation on to what it waits on (see <see cref="AioTask.CloseCancelCycle"/>).</summary>
    internal AioTask? cancelPropagator;

    /// <summary>The loop thread's ExecutionContext between steps.</summary>
    internal ExecutionContext? baseContext;

    // What a loop-native suspension saw of the ExecutionContext, when nothing can have changed it since: the step's
    // last frame suspended with the loop's base context (SuspendedAtBase) or another one (SuspendedElsewhere). Set by
    // the method builder after the awaiter took the frame; back to ContextUnknown when a step begins and when an
    // inline coroutine returns to its caller (whose own suspension, if any, sets it again). A byte, not the context
    // itself: a reference store would cost a write barrier per step. Loop thread only.
    internal const byte ContextUnknown = 0;
    internal const byte SuspendedAtBase = 1;
    internal const byte SuspendedElsewhere = 2;
    internal byte suspendContextState;

    // Live tasks, by slot; freed slots are reused, so registering allocates nothing in steady state.
    // Both grow in chunks, never copied: see ChunkedArray.
    private readonly ChunkedArray<AioTask?> taskSlots = new(64);
    private int slotHigh;
    private readonly ChunkedArray<int> freeSlots = new(64);
    private int freeCount;
    private int liveTasks;

    private AioTask[] fresh = new AioTask[64];
    private int freshCount;

    /// <summary>For introspection from another thread: the slot array and its used length, read racily (a slot may be
    /// stale or null; the array may be replaced by a larger copy meanwhile, which holds the same tasks).</summary>
    internal (ChunkedArray<AioTask?> Slots, int High) TaskSlotsForSnapshot() => (taskSlots, Volatile.Read(ref slotHigh));

    /// <summary>How many tasks of this loop are not finished.</summary>
    internal int LiveTaskCount => liveTasks;

    /// <summary>Schedules <paramref name="coroutine"/> as a task; its first step is queued.
    /// asyncio counterpart: <c>loop.create_task(coro, name=...)</c>.</summary>
    /// <remarks>Threading: loop thread only (before the loop runs: the thread that will run it).</remarks>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AioTask<T> CreateTask<T>(Coroutine<T> coroutine, string? name = null)
    {
        var box = coroutine.Box ?? throw CoroutineBox.DefaultCoroutine();
        CheckCold(box);
        box.DismissColdReport();
        ScheduleTask(box, name);
        return box;
    }

    /// <summary>Schedules <paramref name="coroutine"/> as a task; see <see cref="CreateTask{T}(Coroutine{T}, string?)"/>.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public AioTask CreateTask(Coroutine coroutine, string? name = null)
    {
        var box = coroutine.Box ?? throw CoroutineBox.DefaultCoroutine();
        CheckCold(box);
        box.DismissColdReport();
        ScheduleTask(box, name);
        return box;
    }

    /// <summary>Runs a plain <c>async Task&lt;T&gt;</c> method as a task; the delegate is called in the
    /// task's first step, not inline.</summary>
    public AioTask<T> CreateTask<T>(Func<Task<T>> function, string? name = null) => CreateFuncTask<T>(function, name);

    /// <summary>As <see cref="CreateTask{T}(Func{Task{T}}, string?)"/>, passing the task's cancellation token.</summary>
    public AioTask<T> CreateTask<T>(Func<CancellationToken, Task<T>> function, string? name = null) => CreateFuncTask<T>(function, name);

    /// <summary>Runs a plain <c>async Task</c> method as a task; the delegate is called in the task's first step.</summary>
    public AioTask CreateTask(Func<Task> function, string? name = null) => CreateFuncTask<VoidResult>(function, name);

    /// <summary>As <see cref="CreateTask(Func{Task}, string?)"/>, passing the task's cancellation token.</summary>
    public AioTask CreateTask(Func<CancellationToken, Task> function, string? name = null) => CreateFuncTask<VoidResult>(function, name);

    private FuncTask<T> CreateFuncTask<T>(Delegate function, string? name)
    {
        ArgumentNullException.ThrowIfNull(function);
        var t = new FuncTask<T>(function);
        ScheduleTask(t, name);
        return t;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static void CheckCold(AioTask box)
    {
        if (box.status != AioTask.StatusCold)
        {
            throw new InvalidOperationException(
                $"Coroutine '{box.CoroutineName}' was already awaited or scheduled; a coroutine runs once (call the method again for a new one).");
        }
    }

    // Hot path: compiled fully optimized at first call. Tiered compilation would run it unoptimized for the
    // first ~100 ms of a burst, which is most of a short one (see docs/performance.md, "Warm-up"). Not inlined: the
    // CreateTask methods are compiled per result type, and this body once.
    [MethodImpl(MethodImplOptions.NoInlining | MethodImplOptions.AggressiveOptimization)]
    internal void ScheduleTask(AioTask box, string? name)
    {
        CheckThread("CreateTask");
        if (closed)
        {
            throw new InvalidOperationException("CreateTask: the event loop is closed.");
        }
        box.loop = this;
        box.status = AioTask.StatusPending;
        box.id = AioTask.NextId();
        if (name is not null)
        {
            box.Extras.Name = name;
        }
        // A task starts with a copy of its creator's context (asyncio copies contextvars).
        box.context = ExecutionContext.Capture();
        if (Debug)
        {
            if (box.extras?.CreationTrace is null)
            {
                box.Extras.CreationTrace = new System.Diagnostics.StackTrace(2, true).ToString();
            }
            MarkDebugOrigin(box);
        }
        ForgetFresh(box);
        Register(box);
        Ready.Enqueue(box);
        if (KettleMetrics.TasksCreated.Enabled)
        {
            KettleMetrics.TasksCreated.Add(1);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private void Register(AioTask t)
    {
        int s;
        if (freeCount > 0)
        {
            s = freeSlots[--freeCount];
        }
        else
        {
            if (slotHigh == taskSlots.Capacity)
            {
                taskSlots.Grow();
            }
            s = slotHigh++;
        }
        taskSlots[s] = t;
        t.slot = s;
        liveTasks++;
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void Unregister(AioTask t)
    {
        int s = t.slot;
        if (s < 0)
        {
            return;
        }
        taskSlots[s] = null;
        t.slot = -1;
        if (freeCount == freeSlots.Capacity)
        {
            freeSlots.Grow();
        }
        freeSlots[freeCount++] = s;
        liveTasks--;
    }

    /// <summary>The tasks of this loop that are not finished. asyncio counterpart: <c>asyncio.all_tasks(loop)</c>.</summary>
    public IReadOnlyList<AioTask> AllTasks()
    {
        var list = new List<AioTask>(liveTasks);
        for (int i = 0; i < slotHigh; i++)
        {
            if (taskSlots[i] is { IsDone: false } t)
            {
                list.Add(t);
            }
        }
        return list;
    }

    internal void RestoreBaseContext()
    {
        var state = suspendContextState;
        suspendContextState = ContextUnknown;
        // A step that ended in a loop-native suspension at the base context needs no capture (a thread-static read)
        // to know that.
        if (state == SuspendedAtBase)
        {
            return;
        }
        var b = baseContext;
        if (b is not null && (state == SuspendedElsewhere || !ReferenceEquals(ExecutionContext.Capture(), b)))
        {
            ExecutionContext.Restore(b);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    internal void NoteFreshCoroutine(AioTask box)
    {
        if (freshCount == fresh.Length)
        {
            Array.Resize(ref fresh, fresh.Length * 2);
        }
        fresh[freshCount++] = box;
    }

    /// <summary>A coroutine awaited or scheduled right after it was made (the usual case) leaves the fresh list at
    /// once: the end-of-iteration sweep would skip it anyway, and a million spawned tasks then cost no list entries.</summary>
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.AggressiveInlining)]
    internal void ForgetFresh(AioTask box)
    {
        int last = freshCount - 1;
        if (last >= 0 && ReferenceEquals(fresh[last], box))
        {
            fresh[last] = null!;
            freshCount = last;
        }
    }

    /// <summary>End of an iteration: coroutines made during it and still cold get a never-awaited guard.</summary>
    private void AfterIteration()
    {
        if (freshCount > 0)
        {
            SweepFresh();
        }
    }

    private void SweepFresh()
    {
        for (int i = 0; i < freshCount; i++)
        {
            var box = fresh[i];
            fresh[i] = null!;
            if (box.status == AioTask.StatusCold && box.extras?.Report is null)
            {
                box.Extras.Report = UnretrievedReport.ForColdCoroutine(box, this);
            }
        }
        freshCount = 0;
        if (fresh.Length > 4096)
        {
            fresh = new AioTask[64];
        }
    }

    private void OnClosing()
    {
        SweepFresh();
        for (int i = 0; i < slotHigh; i++)
        {
            if (taskSlots[i] is { IsDone: false } t)
            {
                CallExceptionHandler(new LoopExceptionContext(
                    $"Task was destroyed but it is pending! Task '{t.Name}' ({t.CoroutineName}) was still pending when its event loop closed.", null)
                { Task = t, SourceTrace = t.extras?.CreationTrace });
            }
            taskSlots[i] = null;
        }
        liveTasks = 0;
        slotHigh = 0;
        freeCount = 0;
    }

    /// <summary>
    /// Schedules <paramref name="coroutine"/> on this loop from another thread and returns a .NET
    /// <see cref="Task{T}"/> for its outcome. asyncio counterpart: <c>asyncio.run_coroutine_threadsafe</c>.
    /// </summary>
    /// <remarks>Threading: any thread except the loop's own (awaiting the result there would deadlock; use await instead).
    /// Cancelling <paramref name="cancellationToken"/> cancels the task on the loop.</remarks>
    public Task<T> RunCoroutineThreadsafe<T>(Coroutine<T> coroutine, CancellationToken cancellationToken = default)
    {
        var box = coroutine.Box ?? throw CoroutineBox.DefaultCoroutine();
        var tcs = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        box.DismissColdReport();
        Action start = () =>
        {
            AioTask<T> task;
            try
            {
                task = CreateTask(coroutine);
            }
            catch (Exception ex)
            {
                tcs.TrySetException(ex);
                return;
            }
            if (cancellationToken.CanBeCanceled)
            {
                var reg = cancellationToken.Register(() => TryEnqueueThreadsafe(new Handle(this, (Action)(() => task.Cancel()), null)));
                task.AddDoneCallback(_ => reg.Dispose());
            }
            task.AddDoneCallback(t =>
            {
                if (t.IsCancelled)
                {
                    tcs.TrySetCanceled(cancellationToken.IsCancellationRequested ? cancellationToken : default);
                }
                else if (t.IsFaulted)
                {
                    tcs.TrySetException(t.Exception!);
                }
                else
                {
                    tcs.TrySetResult(((AioTask<T>)t).Result);
                }
            });
        };
        if (!TryEnqueueThreadsafe(new Handle(this, start, null)))
        {
            throw new InvalidOperationException("RunCoroutineThreadsafe: the event loop is closed.");
        }
        return tcs.Task;
    }
}
