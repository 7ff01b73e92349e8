using System.Collections.Concurrent;
using System.Reflection;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;

namespace Kettle;

/// <summary>
/// Where a coroutine is in the source, read from the portable PDB next to (or embedded in) the assembly: in debug
/// mode, the line of the await it is suspended at (the builder notes the IL offset of every suspension); otherwise
/// the first line of its state machine's MoveNext. Diagnostics only (call graphs, slow-step logs); sequence points
/// are cached per state-machine type; anything missing (no PDB, a dynamic assembly) gives null, never an error.
/// Threading: any thread.
/// </summary>
internal static class SourceLocations
{
    private static readonly ConcurrentDictionary<Type, SequencePoints?> ByType = new();
    private static readonly ConcurrentDictionary<Assembly, MetadataReaderProvider?> Pdbs = new();
    private static readonly object PdbGate = new();

    /// <summary>A MoveNext's visible sequence points, by IL offset.</summary>
    private sealed record SequencePoints(string File, int FirstLine, int[] Offsets, int[] Lines)
    {
        public int LineAt(int ilOffset)
        {
            int i = Array.BinarySearch(Offsets, ilOffset);
            if (i < 0)
            {
                i = ~i - 1; // the last point at or before the offset
            }
            return i >= 0 ? Lines[i] : FirstLine;
        }
    }

    /// <summary>"Type.Method (File.cs:12)" or just the method's name when the source is unknown.</summary>
    public static string Describe(AioTask frame) =>
        Of(frame) is { } at ? $"{frame.CoroutineName} ({at.File}:{at.Line})" : frame.CoroutineName;

    public static (string File, int Line)? Of(AioTask frame)
    {
        if (frame.StateMachineType is not { } t || ByType.GetOrAdd(t, Lookup) is not { } points)
        {
            return null;
        }
        // Debug mode: the await the frame last suspended at (read racily from other threads: an int, never torn).
        int at = frame.extras?.SuspendILOffset ?? -1;
        return (points.File, at >= 0 ? points.LineAt(at) : points.FirstLine);
    }

    private static SequencePoints? Lookup(Type stateMachine)
    {
        try
        {
            var moveNext = stateMachine.GetMethod("MoveNext", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, Type.EmptyTypes);
            if (moveNext is null || Pdbs.GetOrAdd(stateMachine.Assembly, OpenPdb) is not { } provider)
            {
                return null;
            }
            // A MetadataReaderProvider hands out one reader; reading it from two threads at once is not promised safe.
            lock (PdbGate)
            {
                var reader = provider.GetMetadataReader();
                var handle = MetadataTokens.MethodDefinitionHandle(moveNext.MetadataToken);
                string? file = null;
                var points = new List<(int Offset, int Line)>();
                foreach (var sp in reader.GetMethodDebugInformation(handle.ToDebugInformationHandle()).GetSequencePoints())
                {
                    if (sp.IsHidden)
                    {
                        continue;
                    }
                    file ??= reader.GetString(reader.GetDocument(sp.Document).Name);
                    points.Add((sp.Offset, sp.StartLine));
                }
                if (file is null)
                {
                    return null;
                }
                int firstLine = points[0].Line;
                points.Sort((a, b) => a.Offset.CompareTo(b.Offset));
                return new SequencePoints(file, firstLine, [.. points.Select(p => p.Offset)], [.. points.Select(p => p.Line)]);
            }
        }
        catch (Exception ex) when (ex is BadImageFormatException or IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
        }
        return null;
    }

    private static MetadataReaderProvider? OpenPdb(Assembly assembly)
    {
        try
        {
            if (assembly.IsDynamic || assembly.Location is not { Length: > 0 } path || !File.Exists(path))
            {
                return null;
            }
            using var pe = new PEReader(File.OpenRead(path));
            return pe.TryOpenAssociatedPortablePdb(path, p => File.Exists(p) ? File.OpenRead(p) : null, out var provider, out _) ? provider : null;
        }
        catch (Exception ex) when (ex is BadImageFormatException or IOException or InvalidOperationException or ArgumentException or UnauthorizedAccessException or NotSupportedException)
        {
            return null;
        }
    }
}
