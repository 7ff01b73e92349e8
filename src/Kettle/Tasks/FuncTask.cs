using System.Runtime.CompilerServices;

namespace Kettle;

/// <summary>
/// A task running a plain <c>async Task</c> method: its first step (queued, never inline) calls the
/// delegate; the task finishes when the returned <see cref="Task"/> does. Kettle awaits inside the
/// method (Sleep, awaiting tasks) are cancellation points of this task; foreign awaits inside it see
/// cancellation through <see cref="AioTask.CancellationToken"/>.
/// </summary>
internal sealed class FuncTask<T> : AioTask<T>
{
    private Delegate? func;
    private Task? running;
    private readonly string name;
    private TaskSynchronizationContext? syncContext;

    public FuncTask(Delegate func)
    {
        this.func = func;
        name = MethodNames.FromMethod(func.Method);
    }

    internal override string CoroutineName => name;

    internal override SynchronizationContext? StepSynchronizationContext
    {
        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        get => syncContext ??= new TaskSynchronizationContext(this);
    }

    internal override void ResumeCore()
    {
        if (running is { } t)
        {
            Finish(t);
            return;
        }
        var f = func!;
        func = null;
        try
        {
            t = f switch
            {
                Func<Task<T>> g => g(),
                Func<CancellationToken, Task<T>> g => g(CancellationToken),
                Func<Task> g => g(),
                Func<CancellationToken, Task> g => g(CancellationToken),
                _ => throw new InvalidOperationException("Unsupported delegate type."),
            } ?? throw new InvalidOperationException($"The delegate of task '{Name}' returned a null Task.");
        }
        catch (Exception ex)
        {
            CompleteFrame(ex);
            return;
        }
        running = t;
        if (t.IsCompleted)
        {
            Finish(t);
            return;
        }
        t.ConfigureAwait(false).GetAwaiter().UnsafeOnCompleted(OnTaskCompleted);
    }

    private void OnTaskCompleted()
    {
        var l = loop!;
        resumeFrame = this;
        if (l.IsOnLoopThread)
        {
            l.Ready.Enqueue(this);
        }
        else if (!l.TryEnqueueThreadsafe(this))
        {
            l.CallExceptionHandler(new LoopExceptionContext($"Task '{Name}' finished after its event loop closed.", running?.Exception) { Task = this });
        }
    }

    private void Finish(Task t)
    {
        if (t.IsCompletedSuccessfully)
        {
            if (t is Task<T> typed)
            {
                result = typed.Result;
            }
            CompleteFrame(null);
            return;
        }
        try
        {
            t.GetAwaiter().GetResult();
            CompleteFrame(null);
        }
        catch (Exception ex)
        {
            CompleteFrame(ex);
        }
    }
}

/// <summary>
/// The SynchronizationContext installed while a task running plain async code steps: a continuation that
/// code posts (after <c>await someTask</c>) comes back as a step of that same task, so it stays the current
/// task, Kettle awaits after it are still its cancellation points, and the loop knows the task is waiting
/// on the outside until then.
/// </summary>
/// <remarks>Threading: any thread may post.</remarks>
internal sealed class TaskSynchronizationContext : SynchronizationContext
{
    private readonly AioTask task;

    public TaskSynchronizationContext(AioTask task) => this.task = task;

    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        var loop = task.loop!;
        if (!loop.TryEnqueueThreadsafe(new PostedStep(task, d, state)))
        {
            loop.CallExceptionHandler(new LoopExceptionContext(
                $"A continuation of task '{task.Name}' was posted to a closed event loop and will not run.", null)
            { Task = task });
        }
    }

    public override void Send(SendOrPostCallback d, object? state) => task.loop!.SynchronizationContext.Send(d, state);

    public override SynchronizationContext CreateCopy() => this;

    private sealed class PostedStep : IReadyItem
    {
        private readonly AioTask task;
        private readonly SendOrPostCallback callback;
        private readonly object? state;

        public PostedStep(AioTask task, SendOrPostCallback callback, object? state)
        {
            this.task = task;
            this.callback = callback;
            this.state = state;
        }

        public void RunReady()
        {
            var loop = task.loop!;
            bool asStep = task.status == AioTask.StatusPending;
            if (asStep)
            {
                task.BeginStep(loop);
                SynchronizationContext.SetSynchronizationContext(task.StepSynchronizationContext);
            }
            try
            {
                callback(state);
            }
            catch (Exception ex)
            {
                loop.CallExceptionHandler(new LoopExceptionContext($"Exception in a continuation of task '{task.Name}'", ex) { Task = task });
            }
            finally
            {
                if (asStep)
                {
                    SynchronizationContext.SetSynchronizationContext(loop.SynchronizationContext);
                    task.EndStep(loop);
                }
            }
        }
    }
}
