namespace ApprovalStudio.Testing;

/// <summary>
/// A list behind one lock, for collectors that add from other threads while a test reads (OpenTelemetry's in-memory
/// exporter adds each span as it ends). Lock the list itself to read it.
/// </summary>
public sealed class LockedCollection<T>(List<T> inner) : ICollection<T>
{
    public int Count { get { lock (inner) { return inner.Count; } } }

    public bool IsReadOnly => false;

    public void Add(T item) { lock (inner) { inner.Add(item); } }

    public void Clear() { lock (inner) { inner.Clear(); } }

    public bool Contains(T item) { lock (inner) { return inner.Contains(item); } }

    public void CopyTo(T[] array, int arrayIndex) { lock (inner) { inner.CopyTo(array, arrayIndex); } }

    public bool Remove(T item) { lock (inner) { return inner.Remove(item); } }

    public IEnumerator<T> GetEnumerator() { lock (inner) { return inner.ToList().GetEnumerator(); } }

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
