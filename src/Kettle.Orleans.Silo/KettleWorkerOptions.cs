using System.Reflection;

namespace Kettle.Orleans;

/// <summary>
/// What a silo lets Kettle's cluster executor run: the job assemblies (the allow-list) and how many calls run at once.
/// asyncio counterpart: the <c>max_workers</c> of <c>concurrent.futures.ProcessPoolExecutor</c>, per silo.
/// </summary>
/// <remarks>Threading: configure before the silo starts; read-only afterwards.</remarks>
public sealed class KettleWorkerOptions
{
    /// <summary>The assemblies whose public static methods clients may call. Only these; each at the version loaded here.</summary>
    public IList<Assembly> JobAssemblies { get; } = new List<Assembly>();

    /// <summary>How many calls run at once on this silo (default: the number of cores); the rest wait their turn.</summary>
    public int MaxConcurrentCalls { get; set; } = Environment.ProcessorCount;
}
