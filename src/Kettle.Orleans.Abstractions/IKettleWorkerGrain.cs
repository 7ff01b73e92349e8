using Orleans;

namespace Kettle.Orleans;

/// <summary>
/// The worker grain of Kettle's cluster executor: runs one call (a public static method of an allowed job assembly,
/// with JSON arguments) and replies with its result, its exception or why it was refused. Implemented by
/// Kettle.Orleans.Silo; called by <c>ClusterExecutor</c>. asyncio counterpart: the worker side of
/// <c>concurrent.futures.ProcessPoolExecutor</c>.
/// </summary>
/// <remarks>
/// Threading: Orleans' turn-based model; one call at a time per activation (keyed by an integer slot), the user's
/// method runs on a thread-pool thread, at most the silo's configured number at once.
/// </remarks>
[Alias("Kettle.Orleans.IKettleWorkerGrain")]
public interface IKettleWorkerGrain : IGrainWithIntegerKey
{
    /// <summary>Runs <paramref name="call"/>; <paramref name="cancellationToken"/> reaches the user's method if it takes one.</summary>
    [Alias("Run")]
    Task<KettleCallReply> Run(KettleCallRequest call, CancellationToken cancellationToken);
}
