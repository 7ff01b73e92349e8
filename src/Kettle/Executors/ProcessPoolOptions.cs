namespace Kettle;

/// <summary>
/// Settings of a <see cref="ProcessPoolExecutor"/>. asyncio counterpart: the arguments of
/// <c>concurrent.futures.ProcessPoolExecutor(max_workers, initializer=, initargs=, max_tasks_per_child=)</c>.
/// </summary>
/// <remarks>Threading: read once, by the pool's constructor.</remarks>
public sealed class ProcessPoolOptions
{
    /// <summary>The most worker processes at once (default: <see cref="Environment.ProcessorCount"/>).</summary>
    public int? MaxWorkers { get; init; }

    /// <summary>
    /// How many calls a worker runs before it exits and is replaced (default: no limit), to bound leaks in the
    /// called code. Python: <c>max_tasks_per_child</c>.
    /// </summary>
    public int? MaxTasksPerChild { get; init; }

    /// <summary>
    /// A public static method each worker runs once when it starts, before any call, with
    /// <see cref="InitializerArguments"/> (the same rules as calls apply). If it throws, the pool is broken: pending
    /// and later calls fail. Python: <c>initializer</c>.
    /// </summary>
    public Delegate? Initializer { get; init; }

    /// <summary>The arguments of <see cref="Initializer"/>. Python: <c>initargs</c>.</summary>
    public IReadOnlyList<object?> InitializerArguments { get; init; } = [];

    /// <summary>
    /// The application .dll workers start from, with its <c>.runtimeconfig.json</c> and <c>.deps.json</c> beside it
    /// (default: the entry assembly, with the runtime config and dependencies this process started with). Set it
    /// when the entry assembly cannot host the called methods, e.g. a test host.
    /// </summary>
    public string? WorkerAssembly { get; init; }
}
