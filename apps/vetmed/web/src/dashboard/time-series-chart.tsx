import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  /** One value per time; null where there is none. */
  values: ReadonlyArray<number | null>;
  dashed?: boolean;
  fill?: boolean;
}

export interface TimeSeriesChartProps {
  title: string;
  /** Sample times, epoch ms, oldest first. */
  times: readonly number[];
  series: readonly ChartSeries[];
  /** The unit of the y axis ("slots", "ms", "per second"). */
  unit: string;
  height?: number;
  /** The y axis starts at 0 and reaches at least this. */
  minMax?: number;
}

/**
 * A small time-series chart (uPlot: canvas, about 50 KB, fast enough to redraw every second). The
 * canvas is hidden from screen readers: the dashboard's tables carry the same figures as text.
 */
export function TimeSeriesChart({
  title,
  times,
  series,
  unit,
  height = 160,
  minMax = 1,
}: TimeSeriesChartProps) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((item) => `${item.label}:${item.color}:${item.dashed}:${item.fill}`).join('|');

  const data = (): uPlot.AlignedData => [
    times.map((time) => time / 1000),
    ...series.map((item) => item.values as (number | null)[]),
  ];

  // Created again only when the series' look changes (`shape`: a line appears, e.g. the effective
  // limit); new data goes through the effect below.
  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(200, element.clientWidth),
      height,
      legend: { live: false },
      cursor: { show: false },
      scales: {
        x: { time: true },
        y: { range: (_u, _min, max) => [0, Math.max(minMax, Math.ceil(max * 1.1))] },
      },
      axes: [{}, { label: unit, size: 50 }],
      series: [
        {},
        ...series.map((item) => ({
          label: item.label,
          stroke: item.color,
          width: 2,
          ...(item.dashed ? { dash: [6, 4] } : {}),
          ...(item.fill ? { fill: `${item.color}33` } : {}),
          points: { show: false },
        })),
      ],
    };
    const chart = new uPlot(options, data(), element);
    plot.current = chart;
    const resize = new ResizeObserver(() =>
      chart.setSize({ width: Math.max(200, element.clientWidth), height }),
    );
    resize.observe(element);
    return () => {
      resize.disconnect();
      chart.destroy();
      plot.current = null;
    };
  }, [shape, height, unit, minMax]);

  useEffect(() => {
    plot.current?.setData(data());
  });

  return (
    <figure className="chart">
      <figcaption>{title}</figcaption>
      <div ref={container} aria-hidden="true" />
    </figure>
  );
}
