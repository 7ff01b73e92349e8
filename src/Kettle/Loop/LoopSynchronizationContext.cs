namespace Kettle;

/// <summary>
/// Posts continuations onto the loop, so an <c>await</c> of a <see cref="Task"/>, a socket or any
/// other .NET awaitable inside the loop resumes on the loop thread.
/// </summary>
/// <remarks>Threading: any thread may post.</remarks>
internal sealed class LoopSynchronizationContext : SynchronizationContext
{
    private readonly EventLoop loop;

    public LoopSynchronizationContext(EventLoop loop) => this.loop = loop;

    public override void Post(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (!loop.TryEnqueueThreadsafe(new Handle(loop, d, state)))
        {
            // The continuation cannot run any more; say so rather than lose it silently.
            loop.CallExceptionHandler(new LoopExceptionContext(
                $"A continuation ({d.Method.DeclaringType?.Name}.{d.Method.Name}) was posted to a closed event loop and will not run.", null));
        }
    }

    public override void Send(SendOrPostCallback d, object? state)
    {
        ArgumentNullException.ThrowIfNull(d);
        if (loop.IsOnLoopThread)
        {
            d(state);
            return;
        }
        throw new InvalidOperationException(
            "Synchronous Send to the event loop from another thread would block that thread on the loop; use Post or CallSoonThreadsafe.");
    }

    public override SynchronizationContext CreateCopy() => this;
}

/// <summary>Runs <see cref="Task"/>s on the loop thread, for APIs that take a TaskScheduler.</summary>
/// <remarks>Threading: any thread may queue.</remarks>
internal sealed class LoopTaskScheduler : TaskScheduler
{
    private readonly EventLoop loop;
    // One delegate for every queued task (the task is the handle's state): a lambda capturing the task allocated a
    // closure and a delegate per task.
    private readonly Action<object?> execute;

    public LoopTaskScheduler(EventLoop loop)
    {
        this.loop = loop;
        execute = state => TryExecuteTask((Task)state!);
    }

    public override int MaximumConcurrencyLevel => 1;

    protected override void QueueTask(Task task)
    {
        if (!loop.TryEnqueueThreadsafe(new Handle(loop, execute, task)))
        {
            throw new InvalidOperationException("Cannot queue a task on a closed event loop.");
        }
    }

    protected override bool TryExecuteTaskInline(Task task, bool taskWasPreviouslyQueued) =>
        !taskWasPreviouslyQueued && loop.IsOnLoopThread && TryExecuteTask(task);

    protected override IEnumerable<Task>? GetScheduledTasks() => null;
}
