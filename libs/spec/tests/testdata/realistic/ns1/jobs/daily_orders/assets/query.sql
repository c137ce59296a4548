SELECT order_id, SUM(amount) total
FROM `sample-project.raw.orders` o
JOIN /* @ignoreupstream */ `sample-project.ref.fx_rates` f USING (currency)
WHERE DATE(o.event_ts) >= DATE('{{.DSTART}}') AND DATE(o.event_ts) < DATE('{{.DEND}}')
GROUP BY 1
