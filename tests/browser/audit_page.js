() => {
  // Evaluated in the page by test_console_defences.py: the accessibility findings of what is shown.
  const problems = [];
  const shown = (el) => el.getClientRects().length > 0 && getComputedStyle(el).visibility !== "hidden";
  for (const el of document.querySelectorAll("input, select, textarea")) {
    if (!shown(el)) continue;
    const named = el.labels.length > 0 || el.getAttribute("aria-label") || el.getAttribute("aria-labelledby");
    if (!named) problems.push(`no label: #${el.id}`);
  }
  for (const el of document.querySelectorAll("button, a[href]")) {
    if (!shown(el)) continue;
    if (!(el.getAttribute("aria-label") || el.textContent).trim()) problems.push(`no name: ${el.outerHTML}`);
  }
  for (const th of document.querySelectorAll("th")) {
    if (!th.getAttribute("scope")) problems.push(`th without scope: ${th.textContent}`);
  }
  const ids = [...document.querySelectorAll("[id]")].map((el) => el.id);
  for (const id of new Set(ids)) if (ids.indexOf(id) !== ids.lastIndexOf(id)) problems.push(`duplicate id ${id}`);

  const parse = (color) => {
    const m = color.match(/rgba?\(([^)]+)\)/);
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map((v) => v.endsWith("%") ? Number(v.slice(0, -1)) / 100 : Number(v));
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, base) => [0, 1, 2].map((i) => top[i] * top[3] + base[i] * (1 - top[3]));
  const behind = (el) => {
    const layers = [];
    for (let node = el; node; node = node.parentElement) {
      const c = parse(getComputedStyle(node).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((base, layer) => over(layer, base), [255, 255, 255]);
  };
  const luminance = (rgb) => {
    const [r, g, b] = rgb.map((v) => { v /= 255; return v <= 0.04045 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; });
    return 0.2126 * r + 0.7152 * g + 0.0722 * b;
  };
  const ratio = (a, b) => { const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x); return (hi + 0.05) / (lo + 0.05); };
  const check = (el, style, what) => {
    const bg = behind(el);
    const fg = over(parse(style.color), bg);
    const size = parseFloat(style.fontSize);
    const large = size >= 24 || (size >= 18.66 && Number(style.fontWeight) >= 700);
    const found = ratio(fg, bg);
    if (found < (large ? 3 : 4.5)) problems.push(`contrast ${found.toFixed(2)} for ${what}: "${(el.textContent || el.value || el.placeholder).trim().slice(0, 40)}"`);
  };
  let checked = 0;
  for (const el of document.querySelectorAll("body *")) {
    if (!shown(el) || ["SCRIPT", "STYLE"].includes(el.tagName)) continue;
    const text = [...el.childNodes].some((n) => n.nodeType === Node.TEXT_NODE && n.textContent.trim());
    const control = ["INPUT", "SELECT", "TEXTAREA"].includes(el.tagName) && el.type !== "checkbox";
    if (text || (control && el.value)) { check(el, getComputedStyle(el), el.tagName.toLowerCase()); checked++; }
    if (control && el.placeholder && !el.value) { check(el, getComputedStyle(el, "::placeholder"), "placeholder"); checked++; }
  }
  return { problems, checked };
}
